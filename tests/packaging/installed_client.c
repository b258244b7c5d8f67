// SPDX-License-Identifier: GPL-2.0
/*
 * A C program built the way a user builds against an installed exofusion:
 * `cc $(pkg-config --cflags --libs exofusion)`, no C++ runtime named.
 * Usage: installed_client memfd|device MESSAGES
 * Sends MESSAGES numbered messages through a fresh ring in laps of half its
 * capacity, receives each lap and checks every message; then checks that a
 * bad argument is refused with its errno and a message naming it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <exofusion/exofusion.h>

#define CAPACITY 64u

static int fail(const char *what, int err)
{
	fprintf(stderr, "installed_client: %s: %s (%s)\n", what, strerror(-err),
		exo_last_error());
	return 1;
}

static int move_messages(exo_ring *ring, unsigned long total)
{
	struct exo_msg msg;
	unsigned long sent = 0, received = 0;
	int err;

	while (received < total) {
		for (unsigned int i = 0; i < CAPACITY / 2 && sent < total; i++, sent++) {
			err = exo_send(ring, &sent, sizeof(sent), EXO_NONBLOCK);
			if (err < 0)
				return fail("exo_send", err);
		}
		while (received < sent) {
			unsigned long value;

			err = exo_recv(ring, &msg, EXO_NONBLOCK);
			if (err < 0)
				return fail("exo_recv", err);
			memcpy(&value, msg.data, sizeof(value));
			if (msg.len != sizeof(value) || value != received) {
				fprintf(stderr, "installed_client: message %lu read as %lu (%u bytes)\n",
					received, value, msg.len);
				return 1;
			}
			received++;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct exo_ring_params params = { .name = "installed-client", .capacity = CAPACITY,
					  .mode = EXO_MODE_SPSC };
	enum exo_backend backend;
	exo_ring *ring;
	unsigned long total;
	int err, status;

	if (argc != 3 || (strcmp(argv[1], "memfd") && strcmp(argv[1], "device"))) {
		fprintf(stderr, "usage: installed_client memfd|device MESSAGES\n");
		return 2;
	}
	backend = strcmp(argv[1], "memfd") ? EXO_BACKEND_DEVICE : EXO_BACKEND_MEMFD;
	total = strtoul(argv[2], NULL, 10);

	params.capacity = 3;
	err = exo_ring_create(&params, backend, &ring);
	if (err != -EINVAL || !strstr(exo_last_error(), "capacity")) {
		fprintf(stderr, "installed_client: capacity 3 gave %d (%s)\n", err,
			exo_last_error());
		return 1;
	}
	params.capacity = CAPACITY;
	err = exo_ring_create(&params, backend, &ring);
	if (err < 0)
		return fail("exo_ring_create", err);
	status = move_messages(ring, total);
	exo_ring_close(ring);
	if (backend == EXO_BACKEND_DEVICE) {
		err = exo_ring_destroy(params.name);
		if (err < 0)
			return fail("exo_ring_destroy", err);
	}
	if (!status)
		printf("installed_client: %lu messages through a %s ring\n", total, argv[1]);
	return status;
}
