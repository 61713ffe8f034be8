// Must NOT compile: registry (L2) may not see gateway (L2, a peer). See test/layering/CMakeLists.txt.
#include "llmp/gateway/routing.h"
