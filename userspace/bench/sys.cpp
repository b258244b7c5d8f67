#include "sys.h"

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include <fcntl.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

namespace exobench {
namespace {

bool g_cpu_shared = false;

void vprint_error(const char *fmt, va_list ap, const char *suffix)
{
	std::fprintf(stderr, "exobench: ");
	std::vfprintf(stderr, fmt, ap);
	std::fprintf(stderr, "%s\n", suffix);
}

uint64_t clock_ns(clockid_t clock)
{
	timespec ts;
	clock_gettime(clock, &ts);
	return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

// Whether a failed read/write should simply be retried.
bool retryable(int err)
{
	if (err == EINTR)
		return true;
	if (err == EAGAIN) {
		spin_pause();
		return true;
	}
	return false;
}

}  // namespace

void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprint_error(fmt, ap, "");
	va_end(ap);
	std::fflush(stdout);
	_exit(1);
}

void die_errno(const char *fmt, ...)
{
	const int err = errno;
	char suffix[128];
	std::snprintf(suffix, sizeof(suffix), ": %s", std::strerror(err));
	va_list ap;
	va_start(ap, fmt);
	vprint_error(fmt, ap, suffix);
	va_end(ap);
	std::fflush(stdout);
	_exit(1);
}

uint64_t now_ns()
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t process_cpu_ns()
{
	return clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

void set_cpu_shared(bool shared)
{
	g_cpu_shared = shared;
}

bool cpu_shared()
{
	return g_cpu_shared;
}

void spin_pause()
{
	if (g_cpu_shared)
		sched_yield();
	else
		__builtin_ia32_pause();
}

void write_all(int fd, const void *buf, size_t len)
{
	const char *p = static_cast<const char *>(buf);
	while (len > 0) {
		const ssize_t n = write(fd, p, len);
		if (n > 0) {
			p += n;
			len -= size_t(n);
		} else if (n < 0 && !retryable(errno)) {
			die_errno("write");
		}
	}
}

size_t read_some(int fd, void *buf, size_t max)
{
	for (;;) {
		const ssize_t n = read(fd, buf, max);
		if (n > 0)
			return size_t(n);
		if (n == 0)
			die("read: peer closed the channel");
		if (!retryable(errno))
			die_errno("read");
	}
}

void read_exact(int fd, void *buf, size_t len)
{
	char *p = static_cast<char *>(buf);
	while (len > 0) {
		const size_t n = read_some(fd, p, len);
		p += n;
		len -= n;
	}
}

void set_nonblocking(int fd)
{
	const int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		die_errno("fcntl(O_NONBLOCK)");
}

}  // namespace exobench
