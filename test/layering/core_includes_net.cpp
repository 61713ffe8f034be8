// Must NOT compile: core (L0) may not see net (L1). See test/layering/CMakeLists.txt.
#include "llmp/net/http.h"
