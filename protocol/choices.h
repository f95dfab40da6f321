// The protocol's choices as enums, each with its names in one table: a request, a mapping file
// and the client read a name through from_name() and write one with name(), so a choice is
// checked once and spelt one way.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace wavecast::protocol {

// A performer's cue to the composer: a drum fill to end the bar, or that fill and then the form's
// next section from the next bar line.
enum class CueKind { fill, next_section };
// How a MIDI knob's 0..127 maps onto a parameter's range: evenly, or in equal ratios.
enum class Curve { linear, exp };

template <class E>
struct ChoiceNames;
template <>
struct ChoiceNames<CueKind> {
    static constexpr std::array<std::pair<CueKind, const char*>, 2> names{
        {{CueKind::fill, "fill"}, {CueKind::next_section, "next_section"}}};
};
template <>
struct ChoiceNames<Curve> {
    static constexpr std::array<std::pair<Curve, const char*>, 2> names{{{Curve::linear, "linear"}, {Curve::exp, "exp"}}};
};

template <class E>
const char* name(E e) {
    for (const auto& [v, n] : ChoiceNames<E>::names)
        if (v == e) return n;
    return "?";
}

template <class E>
std::optional<E> from_name(std::string_view s) {
    for (const auto& [v, n] : ChoiceNames<E>::names)
        if (s == n) return v;
    return std::nullopt;
}

// "\"fill\" or \"next_section\"": what an error says the choice must be.
template <class E>
std::string choices_text() {
    std::string out;
    const auto& names = ChoiceNames<E>::names;
    for (size_t i = 0; i < names.size(); ++i)
        out += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + std::string("\"") + names[i].second + "\"";
    return out;
}

}  // namespace wavecast::protocol
