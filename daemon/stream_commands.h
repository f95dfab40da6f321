// What each command does to a stream, as the engine dispatches it (engine.h). Domain checks (a
// style that exists, a file that can be read or written) are here; the protocol's own (names,
// types, ranges) were made in parsing. Errors are protocol::Error with their codes.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "daemon/stream.h"
#include "daemon/style_shelf.h"
#include "protocol/requests.h"

namespace wavecast {

nlohmann::json set_params(Stream& s, const protocol::Set& c);
nlohmann::json change_style(Stream& s, const StyleShelf& styles, const protocol::StyleCmd& c);
nlohmann::json cue(Stream& s, const protocol::Cue& c);
// File work: checked now, done by the returned function off the control thread.
std::function<nlohmann::json()> play_score(Stream& s, const protocol::Score& c);
std::function<nlohmann::json()> start_recording(Stream& s, const protocol::Record& c, const std::string& recordings_dir);
std::function<nlohmann::json()> stop_recording(Stream& s);

}  // namespace wavecast
