// Message contents: what senders write and receivers verify.
//
// Layout, in 64-bit words: [0] sequence number, [1] producer id, [2..] a
// pattern derived from both. A receiver that knows which sequence number it
// expects from which producer thereby detects lost, duplicated, reordered,
// torn or stale messages; the pattern covers every byte, so verifying also
// proves the receiver read the whole message.
#pragma once

#include <cstddef>
#include <cstdint>

namespace exobench {

constexpr size_t kMessageHeaderWords = 2;

// The 56-byte message of the *-56B scenarios, as a type for queues of values.
struct alignas(8) Msg56 {
	uint64_t words[7];
};
static_assert(sizeof(Msg56) == 56, "Msg56 must be exactly 56 bytes");

// Messages the in-memory peer queues hold (about 56 KiB of Msg56, near a
// pipe's default 64 KiB), so that no peer wins by buffering more.
constexpr size_t kPeerQueueMessages = 1024;

inline uint64_t pattern_base(uint64_t seq, uint64_t producer)
{
	return (seq * 0x9E3779B97F4A7C15ull) ^ (producer << 56);
}

// `size` is a multiple of 8, at least 16; `msg` is 8-byte aligned.
inline void fill_message(void *msg, size_t size, uint64_t producer, uint64_t seq)
{
	uint64_t *w = static_cast<uint64_t *>(msg);
	const uint64_t base = pattern_base(seq, producer);
	w[0] = seq;
	w[1] = producer;
	for (size_t i = kMessageHeaderWords; i < size / 8; i++)
		w[i] = base + i;
}

inline bool message_ok(const void *msg, size_t size, uint64_t producer, uint64_t seq)
{
	const uint64_t *w = static_cast<const uint64_t *>(msg);
	const uint64_t base = pattern_base(seq, producer);
	uint64_t diff = (w[0] ^ seq) | (w[1] ^ producer);
	for (size_t i = kMessageHeaderWords; i < size / 8; i++)  // no early exit: vectorizes
		diff |= w[i] ^ (base + i);
	return diff == 0;
}

inline uint64_t message_producer(const void *msg)
{
	return static_cast<const uint64_t *>(msg)[1];
}

// Verifies, or dies naming what was expected and what arrived.
void expect_message(const void *msg, size_t size, uint64_t producer, uint64_t seq);

}  // namespace exobench
