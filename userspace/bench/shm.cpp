#include "shm.h"

#include <sys/mman.h>

#include "sys.h"

namespace exobench {

SharedMemory::SharedMemory(size_t bytes) : size_(bytes)
{
	data_ = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (data_ == MAP_FAILED)
		die_errno("mmap(MAP_SHARED, %zu bytes)", bytes);
}

SharedMemory::~SharedMemory()
{
	munmap(data_, size_);
}

}  // namespace exobench
