#include "message.h"

#include "sys.h"

namespace exobench {

void expect_message(const void *msg, size_t size, uint64_t producer, uint64_t seq)
{
	if (__builtin_expect(message_ok(msg, size, producer, seq), 1))
		return;
	const uint64_t *w = static_cast<const uint64_t *>(msg);
	die("corrupt message: expected seq %llu from producer %llu (%zu bytes), "
	    "got seq %llu from producer %llu%s",
	    (unsigned long long)seq, (unsigned long long)producer, size,
	    (unsigned long long)w[0], (unsigned long long)w[1],
	    w[0] == seq && w[1] == producer ? " with a bad payload" : "");
}

}  // namespace exobench
