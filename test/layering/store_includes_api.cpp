// Must NOT compile: store (L1) may not see api (L4). See test/layering/CMakeLists.txt.
#include "llmp/api/routes.h"
