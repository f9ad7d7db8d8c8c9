// ATTUNE_API marks what libattune exports. The library is built with hidden visibility, so only the
// public API (include/attune/*) is visible to programs that link it: no internal or torch symbol.
#pragma once

#if defined(_WIN32)
#define ATTUNE_API
#else
#define ATTUNE_API __attribute__((visibility("default")))
#endif
// ATTUNE_HIDDEN keeps a member of an exported class out of the library's exports (pimpl structs).
#if defined(_WIN32)
#define ATTUNE_HIDDEN
#else
#define ATTUNE_HIDDEN __attribute__((visibility("hidden")))
#endif
