#include "harness.h"

#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "sys.h"

namespace exobench {
namespace {

// Generous: a repetition takes well under a second on the host and the
// slow QEMU environment is driven with small --msgs.
constexpr unsigned kChildTimeoutSeconds = 300;

void pin_to_cpu(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		die_errno("sched_setaffinity(CPU %d)", cpu);
}

bool shares_cpu(const std::vector<Placement> &placements, size_t index)
{
	for (size_t i = 0; i < placements.size(); i++)
		if (i != index && placements[i].cpu == placements[index].cpu)
			return true;
	return false;
}

[[noreturn]] void run_child(const std::vector<Placement> &placements, size_t index,
			    FnRef<void(Role)> body)
{
	pin_to_cpu(placements[index].cpu);
	set_cpu_shared(shares_cpu(placements, index));
	alarm(kChildTimeoutSeconds);  // default action: die of SIGALRM
	body(placements[index].role);
	_exit(0);
}

void kill_all(const std::vector<pid_t> &pids)
{
	for (pid_t pid : pids)
		if (pid > 0)
			kill(pid, SIGKILL);
	for (pid_t pid : pids)
		if (pid > 0)
			waitpid(pid, nullptr, 0);
}

}  // namespace

const char *role_name(Role role)
{
	switch (role) {
	case Role::Producer0:
		return "producer 0";
	case Role::Producer1:
		return "producer 1";
	case Role::Consumer:
		return "consumer";
	}
	return "?";
}

void run_children(const std::vector<Placement> &placements, FnRef<void(Role)> body)
{
	std::fflush(nullptr);  // else children inherit, and flush, buffered output
	std::vector<pid_t> pids;
	for (size_t i = 0; i < placements.size(); i++) {
		const pid_t pid = fork();
		if (pid < 0) {
			kill_all(pids);
			die_errno("fork");
		}
		if (pid == 0)
			run_child(placements, i, body);
		pids.push_back(pid);
	}
	for (size_t left = pids.size(); left > 0; left--) {
		int status;
		const pid_t pid = waitpid(-1, &status, 0);
		if (pid < 0)
			die_errno("waitpid");
		size_t i = 0;
		while (i < pids.size() && pids[i] != pid)
			i++;
		if (i == pids.size())
			continue;  // not one of ours
		pids[i] = 0;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			continue;
		kill_all(pids);
		if (WIFSIGNALED(status))
			die("%s process died of signal %d%s", role_name(placements[i].role),
			    WTERMSIG(status), WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
		die("%s process failed (exit status %d)", role_name(placements[i].role),
		    WEXITSTATUS(status));
	}
}

void StartBarrier::arrive_and_wait(unsigned parties)
{
	arrived.fetch_add(1, std::memory_order_acq_rel);
	while (arrived.load(std::memory_order_acquire) < parties)
		sched_yield();
}

}  // namespace exobench
