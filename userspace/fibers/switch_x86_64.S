/* SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0 */
/*
 * The fiber context switch (x86-64 System V).
 *
 * A suspended context is its stack pointer. What the ABI makes callee-saved
 * is pushed below the return address: rbp, rbx, r12-r15, then one 8-byte
 * slot holding MXCSR (low half) and the x87 control word (high half). The
 * other registers are caller-saved, so the compiler has already spilled any
 * it needs across the call; the FPU/SSE data registers are not saved (no
 * lazy FPU state: each switch leaves nothing of one fiber behind for another).
 *
 * void exo_fiber_switch(void **save_sp, void *load_sp)
 *	Saves the caller's context into *save_sp and resumes load_sp.
 *
 * A new context (Context::init in context.cpp) holds the trampoline as its
 * return address, the entry function in r12 and its argument in r13.
 */
	.text
	.globl	exo_fiber_switch
	.type	exo_fiber_switch, @function
	.p2align 4
exo_fiber_switch:
	.cfi_startproc
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbp, 0
	pushq	%rbx
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbx, 0
	pushq	%r12
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r12, 0
	pushq	%r13
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r13, 0
	pushq	%r14
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r14, 0
	pushq	%r15
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r15, 0
	leaq	-8(%rsp), %rsp
	.cfi_adjust_cfa_offset 8
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movq	%rsp, (%rdi)
	/* From here the stack is the target's: its unwind rules are the same. */
	movq	%rsi, %rsp
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
	leaq	8(%rsp), %rsp
	.cfi_adjust_cfa_offset -8
	popq	%r15
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r15
	popq	%r14
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r14
	popq	%r13
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r13
	popq	%r12
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r12
	popq	%rbx
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbx
	popq	%rbp
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbp
	/*
	 * Not ret: the return stack buffer predicts a return to the caller of
	 * this switch, a different context's code, and mispredicts on every
	 * switch (13.7 against 5.4 ns here); an indirect jump is predicted
	 * from its history, as boost.context's jump_fcontext does.
	 */
	popq	%rcx
	.cfi_adjust_cfa_offset -8
	.cfi_register %rip, %rcx
	jmp	*%rcx
	.cfi_endproc
	.size	exo_fiber_switch, .-exo_fiber_switch

/*
 * A fiber's first frame. Entered by exo_fiber_switch's ret with rsp 16-byte
 * aligned (exo_fiber_stack_init places the return address so), it calls
 * entry(arg), which never returns. rip is undefined here, so unwinders
 * (gdb, backtrace(), _Unwind_Backtrace) stop at this frame instead of
 * walking into whatever lies above the stack.
 */
	.globl	exo_fiber_trampoline
	.type	exo_fiber_trampoline, @function
	.p2align 4
exo_fiber_trampoline:
	.cfi_startproc
	.cfi_undefined %rip
	xorl	%ebp, %ebp
	movq	%r13, %rdi
	callq	*%r12
	ud2
	.cfi_endproc
	.globl	exo_fiber_trampoline_end
exo_fiber_trampoline_end:
	.size	exo_fiber_trampoline, .-exo_fiber_trampoline

	.section .note.GNU-stack, "", @progbits
