#pragma once
// Programmatic dependent launch (compute capability 9.0+): the decode-path kernels may start
// while the kernel before them in the stream is finishing, and do what does not depend on it
// (weight loads, block-table lookups) before they wait for it. At batch 1 a decode step is ~150
// short kernels; each otherwise pays its launch and first memory round trips after the
// previous one has drained.

namespace llmp::kernels {

//! For the calling thread: the launches it makes next use programmatic dependent launch when
//! `on` (off until set). The CUDA backend turns it on for the launches of a forward step of up
//! to LLMP_CUDA_PDL_MAX_ROWS rows on devices of compute capability 9.0+, and off after.
void set_programmatic_launch(bool on);
bool programmatic_launch();

//! Whether device `device` can run our kernels launched programmatically: compute capability
//! 9.0+, a driver that captures programmatic launches into graphs (12.3+), and kernels built
//! for sm_90 or newer (a build for 80 only has no griddepcontrol.wait in them, and would race).
bool programmatic_launch_supported(int device);

}  // namespace llmp::kernels
