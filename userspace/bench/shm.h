// Memory shared by all processes of a run: anonymous MAP_SHARED mappings made
// by the parent before fork, so every child sees the same pages at the same
// address (plain pointers into them stay valid in every process).
#pragma once

#include <cstddef>
#include <new>
#include <utility>

namespace exobench {

// A zero-filled, page-aligned shared mapping, unmapped by its owner (the parent).
class SharedMemory {
public:
	explicit SharedMemory(size_t bytes);
	~SharedMemory();
	SharedMemory(const SharedMemory &) = delete;
	SharedMemory &operator=(const SharedMemory &) = delete;

	void *data() const { return data_; }
	size_t size() const { return size_; }

private:
	void *data_;
	size_t size_;
};

// One T constructed in its own shared mapping.
template <class T>
class SharedObject {
public:
	template <class... Args>
	explicit SharedObject(Args &&...args)
		: memory_(sizeof(T)), object_(new (memory_.data()) T(std::forward<Args>(args)...))
	{
	}
	~SharedObject() { object_->~T(); }

	T *get() const { return object_; }
	T *operator->() const { return object_; }
	T &operator*() const { return *object_; }

private:
	SharedMemory memory_;
	T *object_;
};

}  // namespace exobench
