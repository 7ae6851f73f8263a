/* kry/export.h — symbol visibility and attribute macros shared by every kry header. */
#ifndef KRY_EXPORT_H
#define KRY_EXPORT_H

/* KRY_API marks a declaration as part of the public ABI. The library is built with
   hidden visibility, so only KRY_API symbols are exported from libkry. */
#if defined(KRY_BUILDING) && defined(__GNUC__)
#  define KRY_API __attribute__((visibility("default")))
#else
#  define KRY_API
#endif

/* KRY_NODISCARD makes the compiler warn when a returned kry_status is ignored. */
#if defined(__GNUC__)
#  define KRY_NODISCARD __attribute__((warn_unused_result))
#else
#  define KRY_NODISCARD
#endif

#endif /* KRY_EXPORT_H */
