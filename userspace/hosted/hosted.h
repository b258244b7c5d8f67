/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the hosted platform (platform.cpp) tells tests beyond
 * module/core/platform.h: the pages it holds and the reports it got.
 */
#ifndef EXO_HOSTED_H
#define EXO_HOSTED_H

#ifdef __cplusplus
extern "C" {
#endif

/* "CPUs": slots that threads hold while they live. */
#define EXO_HOSTED_CPUS 256

/* Pages handed out by exo_plat_pages_alloc() and not freed yet. */
unsigned long exo_hosted_pages_in_use(void);
/* Reports so far; copies the last one into |last|. */
unsigned long exo_hosted_reports(char *last, unsigned long size);

#ifdef __cplusplus
}
#endif

#endif /* EXO_HOSTED_H */
