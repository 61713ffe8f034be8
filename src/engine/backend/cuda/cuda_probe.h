#pragma once

#include "llmp/engine/devices.h"

namespace llmp::engine {

//! Fills the CUDA part of `report`: devices, or why there are none (not built, no driver...).
void probe_cuda(DeviceReport& report);

}  // namespace llmp::engine
