// boost-spsc: boost::lockfree::spsc_queue in shared memory, both sides
// polling it. Spin only: the queue has no way to sleep.
#include "queue_channel.h"

namespace exobench {
namespace {

struct NoBell {
	static constexpr bool kCanSleep = false;
	void sleep(SleepFlag &) {}
	void wake(SleepFlag &) {}
};

const TransportRegistrar registrar({"boost-spsc", /*can_block=*/false, /*copies_per_msg=*/2,
				    create_queue_channel<NoBell>, nullptr});

}  // namespace
}  // namespace exobench
