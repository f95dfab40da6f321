// One generator that several streams share: their lanes side by side, advanced together by one
// generate() a round, so that a GPU runs one launch for every stream rather than one each (a
// launch of 4 lanes leaves most of an H200 idle). Each stream holds a member: a Generator of its
// own lanes, which the stream's renderer drives as it would a generator of its own.
//
// A member's generate() leaves its inputs for the round and waits; the last member to arrive runs
// the round and hands each its samples. A member that has not arrived within `wait` (its producer
// stopped, or stalled) is not waited for: its lanes advance on their last inputs and their samples
// are dropped, which it hears as a skip. Streams of one daemon play at one rate and render the
// same blocks, so they arrive together and this is rare; each miss is counted and logged.
//
// Should the shared generator throw, every member throws the same from then on, and each stream
// falls back on its own (Renderer::set_fallback); a member destroyed leaves the batch, its lanes
// fed silence from then on.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "kernels/generator.h"

namespace wavecast {

struct BatchMember {
    std::string name;  // for the log: the stream's
    int lanes = 0;
};

// The members of one batch over `shared`, whose lanes are the members' in order (shared->lanes()
// must be their sum), one Generator per member.
std::vector<std::unique_ptr<Generator>> share_generator(std::unique_ptr<Generator> shared, const std::vector<BatchMember>& members,
                                                        std::chrono::milliseconds wait = std::chrono::milliseconds(250));

}  // namespace wavecast
