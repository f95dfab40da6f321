#include "control/surface.h"

#include "protocol/protocol.h"

namespace wavecast {

ControlHandler::Handled ControlHandler::handle(std::string_view raw) {
    nlohmann::json id;
    try {
        return handle(protocol::parse(raw, id));
    } catch (const protocol::Error& e) {
        return {protocol::error_reply(id, e.code, e.what()), nullptr};
    }
}

}  // namespace wavecast
