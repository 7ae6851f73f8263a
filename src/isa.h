/* isa.h — run-time choice among the variants of a SIMD kernel (internal).

   Kernels written with GCC/Clang vector extensions are compiled three times, with
   __attribute__((target(...))) for AVX-512 (F + DQ) and for AVX2 + FMA, and for the
   baseline instruction set, so that the default build flags need no -march; a caller
   picks the widest variant the CPU runs. */
#ifndef KRY_ISA_H
#define KRY_ISA_H

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define KRY_ISA_X86 1
#endif

/* 2: AVX-512 F and DQ, 1: AVX2 and FMA, 0: baseline (and every non-x86 target). */
static inline int kry_isa_level(void)
{
#ifdef KRY_ISA_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq"))
        return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return 1;
#endif
    return 0;
}

/* isa clamped to [0, kry_isa_level()]: a variant the CPU runs. */
static inline int kry_isa_clamp(int isa)
{
    int top = kry_isa_level();
    return isa < 0 ? 0 : isa > top ? top : isa;
}

/* Defines the variants NAME_generic, NAME_avx2 and NAME_avx512 (the last two on x86
   only): static functions with the parenthesised parameter list PARAMS whose body is
   `return CALL;` (KRY_ISA_CLONES) or `CALL;` (KRY_ISA_CLONES_VOID), CALL being the
   always-inline kernel body compiled anew for each instruction set. */
#define KRY_ISA_GENERIC_(ret, name, params, stmt) static ret name##_generic params { stmt; }
#ifdef KRY_ISA_X86
#define KRY_ISA_CLONES_(ret, name, params, stmt)                                        \
    KRY_ISA_GENERIC_(ret, name, params, stmt)                                           \
    __attribute__((target("avx2,fma"))) static ret name##_avx2 params { stmt; }          \
    __attribute__((target("avx512f,avx512dq,fma"))) static ret name##_avx512 params      \
    {                                                                                   \
        stmt;                                                                           \
    }
/* The variant of level isa (0, 1 or 2, already clamped). */
#define KRY_ISA_PICK(isa, name) \
    ((isa) == 2 ? name##_avx512 : (isa) == 1 ? name##_avx2 : name##_generic)
#else
#define KRY_ISA_CLONES_(ret, name, params, stmt) KRY_ISA_GENERIC_(ret, name, params, stmt)
#define KRY_ISA_PICK(isa, name) ((void)(isa), name##_generic)
#endif
#define KRY_ISA_CLONES(ret, name, params, call) KRY_ISA_CLONES_(ret, name, params, return call)
#define KRY_ISA_CLONES_VOID(name, params, call) KRY_ISA_CLONES_(void, name, params, call)

#endif /* KRY_ISA_H */
