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

#endif /* KRY_ISA_H */
