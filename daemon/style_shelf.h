// The styles the daemon knows: read by the control thread (a style request, the list), replaced
// whole by a reload on the main thread.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "score/style.h"

namespace wavecast {

class StyleShelf {
public:
    using Map = std::map<std::string, std::shared_ptr<const Style>>;
    explicit StyleShelf(Map styles) : styles_(std::move(styles)) {}

    // The style of that name, or nullptr.
    std::shared_ptr<const Style> find(const std::string& name) const {
        std::lock_guard lock(mu_);
        const auto it = styles_.find(name);
        return it == styles_.end() ? nullptr : it->second;
    }
    // [{name, description, tempo}], as `styles` answers.
    nlohmann::json list() const {
        std::lock_guard lock(mu_);
        nlohmann::json out = nlohmann::json::array();
        for (const auto& [name, s] : styles_) out.push_back({{"name", name}, {"description", s->description}, {"tempo", s->tempo}});
        return out;
    }
    void replace(Map styles) {
        std::lock_guard lock(mu_);
        styles_ = std::move(styles);
    }

private:
    mutable std::mutex mu_;
    Map styles_;
};

}  // namespace wavecast
