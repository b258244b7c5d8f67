/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The switch test's probe: what survives exo_fiber_switch, seen from
 * assembly (compiled code around the call would save and restore the
 * callee-saved registers itself and hide a switch that forgets them).
 *
 * void exo_test_switch_probe(void **save_sp, void *load_sp, uint64_t *out,
 *			      uint64_t mxcsr_cw, uint64_t pattern)
 *	Loads rbx, rbp, r12-r15 with pattern + 1..6, MXCSR with the low 32
 *	bits of mxcsr_cw and the x87 control word with bits 32-47, calls
 *	exo_fiber_switch(save_sp, load_sp) and, once switched back, stores
 *	the six registers, MXCSR and the control word into out[0..7]. The
 *	caller's registers and floating-point controls are restored.
 */
	.text
	.globl	exo_test_switch_probe
	.type	exo_test_switch_probe, @function
	.p2align 4
exo_test_switch_probe:
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	/* 0: the caller's MXCSR and CW, 8: out, 16: the probe's MXCSR and CW. */
	subq	$24, %rsp
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movq	%rdx, 8(%rsp)
	movq	%rcx, 16(%rsp)
	ldmxcsr	16(%rsp)
	fldcw	20(%rsp)
	leaq	1(%r8), %rbx
	leaq	2(%r8), %rbp
	leaq	3(%r8), %r12
	leaq	4(%r8), %r13
	leaq	5(%r8), %r14
	leaq	6(%r8), %r15
	call	exo_fiber_switch
	movq	8(%rsp), %rax
	movq	%rbx, 0(%rax)
	movq	%rbp, 8(%rax)
	movq	%r12, 16(%rax)
	movq	%r13, 24(%rax)
	movq	%r14, 32(%rax)
	movq	%r15, 40(%rax)
	movq	$0, 48(%rax)
	movq	$0, 56(%rax)
	stmxcsr	48(%rax)
	fnstcw	56(%rax)
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
	addq	$24, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.size	exo_test_switch_probe, .-exo_test_switch_probe

	.section .note.GNU-stack, "", @progbits
