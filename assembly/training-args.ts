// The argument block of the CPU backend's training operations (assembly/training-elementwise.ts,
// assembly/training-rows.ts): 21 words at byte offset `args` of the shared memory, written by
// the JavaScript side (src/kernels/cpu/training-runner.ts) before it calls an op's kernel:
//   words 0 .. 4    a b c d e     byte offsets of the read operands (0: absent)
//   words 5 .. 7    o0 o1 o2      byte offsets of the written operands (0: absent)
//   word 8          count         grid size: elements or rows
//   word 9          width         row width (rows grid), or a period (bias width, block size)
//   word 10         flag          a small integer variant (activation code, norm kind, ...)
//   word 11         per           items per unit: a call's unit is lo / per
//   words 12 .. 20  f0 .. f8      float32 hyper-parameters
// Kernels read them once, before their loops.

/** Read operand a (byte offset). */
@inline export function argA(args: usize): usize { return <usize>load<u32>(args, 0); }
/** Read operand b (byte offset; 0 when absent). */
@inline export function argB(args: usize): usize { return <usize>load<u32>(args, 4); }
/** Read operand c (byte offset; 0 when absent). */
@inline export function argC(args: usize): usize { return <usize>load<u32>(args, 8); }
/** Read operand d (byte offset; 0 when absent). */
@inline export function argD(args: usize): usize { return <usize>load<u32>(args, 12); }
/** Read operand e (byte offset; 0 when absent). */
@inline export function argE(args: usize): usize { return <usize>load<u32>(args, 16); }
/** Written operand o0 (byte offset). */
@inline export function argO0(args: usize): usize { return <usize>load<u32>(args, 20); }
/** Written operand o1 (byte offset; 0 when absent). */
@inline export function argO1(args: usize): usize { return <usize>load<u32>(args, 24); }
/** Written operand o2 (byte offset; 0 when absent). */
@inline export function argO2(args: usize): usize { return <usize>load<u32>(args, 28); }

/** Grid size: elements or rows. */
@inline export function argCount(args: usize): i32 { return load<i32>(args, 32); }
/** Row width, or an element op's period. */
@inline export function argWidth(args: usize): i32 { return load<i32>(args, 36); }
/** The integer variant. */
@inline export function argFlag(args: usize): i32 { return load<i32>(args, 40); }
/** Items per unit (at least 1: a block that says 0 or less means one unit of all `count` items). */
@inline export function argPer(args: usize): i32 {
  const per = load<i32>(args, 44);
  return per > 0 ? per : max(load<i32>(args, 32), 1);
}

/** Float hyper-parameter f0. */
@inline export function argF0(args: usize): f32 { return load<f32>(args, 48); }
/** Float hyper-parameter f1. */
@inline export function argF1(args: usize): f32 { return load<f32>(args, 52); }
/** Float hyper-parameter f2. */
@inline export function argF2(args: usize): f32 { return load<f32>(args, 56); }
/** Float hyper-parameter f3. */
@inline export function argF3(args: usize): f32 { return load<f32>(args, 60); }
/** Float hyper-parameter f4. */
@inline export function argF4(args: usize): f32 { return load<f32>(args, 64); }
/** Float hyper-parameter f5. */
@inline export function argF5(args: usize): f32 { return load<f32>(args, 68); }
/** Float hyper-parameter f6. */
@inline export function argF6(args: usize): f32 { return load<f32>(args, 72); }
/** Float hyper-parameter f7. */
@inline export function argF7(args: usize): f32 { return load<f32>(args, 76); }
/** Float hyper-parameter f8. */
@inline export function argF8(args: usize): f32 { return load<f32>(args, 80); }
