#pragma once

#include <string_view>

namespace llmp::app {

//! Sends `state` ("READY=1", "STOPPING=1") to systemd when it started us with Type=notify
//! (NOTIFY_SOCKET is set). A no-op otherwise.
void notify_systemd(std::string_view state);

}  // namespace llmp::app
