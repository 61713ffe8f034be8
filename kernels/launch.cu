#include "launch.cuh"

namespace llmp::kernels {
namespace {

// Per thread: each backend runs its steps on its own thread, and a step's launches (or its
// graph's capture) happen on the thread that set the flag.
thread_local bool t_programmatic = false;

}  // namespace

void set_programmatic_launch(bool on) { t_programmatic = on; }

bool programmatic_launch() { return t_programmatic; }

}  // namespace llmp::kernels
