// fiberbench-go: the Go 1.19 peer of fiberbench (impl go), same command line
// and JSON lines. One-thread scenarios run with GOMAXPROCS=1, the others
// with 2 (the two workers of exofiber and boost.fiber).
//
//	fiberbench-go --list
//	fiberbench-go --scenario S --impl go [--reps N] [--iters N]
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

const (
	skynetLeaves = 1000000
	skynetSum    = 499999500000
	// mixed-latency, as common.h
	shortEvery = 20 * time.Microsecond
	longEvery  = 8 * time.Millisecond
	slice      = 100 * time.Microsecond
	mixedRun   = 300 * time.Millisecond
)

var scenarios = []string{"switch", "spawn-join", "skynet-1M", "mixed-latency"}

var start = time.Now()

func nowNs() uint64 { return uint64(time.Since(start)) } // monotonic

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "fiberbench-go: "+format+"\n", args...)
	os.Exit(1)
}

func percentile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	rank := q * float64(len(s)-1)
	lo := int(rank)
	hi := lo + 1
	if hi > len(s)-1 {
		hi = len(s) - 1
	}
	return s[lo] + (s[hi]-s[lo])*(rank-float64(lo))
}

var scenario string

func emit(metric, unit string, perRep []float64, ops uint64) {
	median := percentile(perRep, 0.5)
	p99 := percentile(perRep, 0.99)
	digits := 2
	if median < 10 {
		digits = 4
	}
	fmt.Printf("{\"suite\":\"fibers\",\"scenario\":\"%s\",\"impl\":\"go\",\"env\":\"host\","+
		"\"metric\":\"%s\",\"unit\":\"%s\",\"value\":%.*f,\"p50\":%.*f,\"p99\":%.*f,"+
		"\"reps\":%d,\"ops\":%d}\n", scenario, metric, unit, digits, median, digits, median,
		digits, p99, len(perRep), ops)
}

// timedNsPerOp: as common.cpp's timed_ns_per_op.
func timedNsPerOp(reps int, iters uint64, run func(n uint64) float64) {
	if iters > 0 {
		t := run(iters)
		emit("ns_per_op", "ns", []float64{t / float64(iters)}, iters)
		return
	}
	n := uint64(1000)
	for {
		t := run(n)
		if t >= 10e6 {
			n = uint64(float64(n)*100e6/t) &^ 1
			if n < 2 {
				n = 2
			}
			break
		}
		if t*16 < 10e6 {
			n *= 8
		} else {
			n *= 2
		}
	}
	run(n)
	var perRep []float64
	for i := 0; i < reps; i++ {
		perRep = append(perRep, run(n)/float64(n))
	}
	emit("ns_per_op", "ns", perRep, n)
}

// switch: two goroutines on one P handing over with Gosched; n switches.
func switchRun(n uint64) float64 {
	var count uint64
	done := make(chan struct{})
	go func() {
		for i := uint64(0); i < n/2; i++ {
			count++
			runtime.Gosched()
		}
		close(done)
	}()
	t0 := time.Now()
	for i := uint64(0); i < n/2; i++ {
		runtime.Gosched()
	}
	t := time.Since(t0)
	<-done
	if count != n/2 {
		die("switch: the other goroutine ran %d times, not %d", count, n/2)
	}
	return float64(t.Nanoseconds())
}

// spawn-join: start an empty goroutine and wait for it (a channel).
func spawnJoinRun(n uint64) float64 {
	var ran uint64
	done := make(chan struct{})
	t0 := time.Now()
	for i := uint64(0); i < n; i++ {
		go func() {
			ran++
			done <- struct{}{}
		}()
		<-done
	}
	t := time.Since(t0)
	if ran != n {
		die("spawn-join: %d of %d goroutines ran", ran, n)
	}
	return float64(t.Nanoseconds())
}

// skynet as its author wrote it in Go: channels.
func skynet(c chan uint64, num, size uint64) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan uint64, 10)
	sub := size / 10
	for i := uint64(0); i < 10; i++ {
		go skynet(rc, num+i*sub, sub)
	}
	var sum uint64
	for i := 0; i < 10; i++ {
		sum += <-rc
	}
	c <- sum
}

func skynetMain(reps int) {
	var perRep []float64
	for i := 0; i <= reps; i++ {
		c := make(chan uint64, 1)
		t0 := time.Now()
		go skynet(c, 0, skynetLeaves)
		sum := <-c
		ms := float64(time.Since(t0).Nanoseconds()) / 1e6
		if sum != skynetSum {
			die("skynet: sum %d, not %d", sum, uint64(skynetSum))
		}
		if i > 0 {
			perRep = append(perRep, ms)
		}
	}
	emit("ms", "ms", perRep, skynetLeaves)
}

func busy(d time.Duration) {
	end := nowNs() + uint64(d)
	for nowNs() < end {
	}
}

type lcg struct{ s uint64 }

func (l *lcg) next() uint32 {
	l.s = l.s*6364136223846793005 + 1442695040888963407
	return uint32(l.s >> 33)
}

func atomicMax(p *uint64, v uint64) {
	for {
		old := atomic.LoadUint64(p)
		if v <= old || atomic.CompareAndSwapUint64(p, old, v) {
			return
		}
	}
}

func mixedMain(reps int) {
	var p50s, p99s, perS, longMax []float64
	for r := 0; r <= reps; r++ {
		lat := make([]uint64, int(mixedRun/shortEvery)+64)
		var shorts, longs, slices uint64
		var shortsDone, longsDone, slicesDone, lastEnd, maxWait uint64
		var wg sync.WaitGroup
		rng := lcg{0x9e3779b97f4a7c15}
		t0 := nowNs()
		nextShort, nextLong := t0, t0
		for {
			now := nowNs()
			if now-t0 >= uint64(mixedRun) {
				break
			}
			for nextShort <= now && shorts < uint64(len(lat)) {
				idx := shorts
				shorts++
				work := time.Duration(1000 + rng.next()%9001)
				spawned := nowNs()
				wg.Add(1)
				go func() {
					busy(work)
					end := nowNs()
					l := end - spawned
					if l == 0 {
						l = 1
					}
					lat[idx] = l
					atomicMax(&lastEnd, end)
					atomic.AddUint64(&shortsDone, 1)
					wg.Done()
				}()
				nextShort += uint64(shortEvery)
			}
			for nextLong <= now {
				n := 10 + rng.next()%91
				longs++
				slices += uint64(n)
				spawned := nowNs()
				wg.Add(1)
				go func() {
					atomicMax(&maxWait, nowNs()-spawned)
					for i := uint32(0); i < n; i++ {
						busy(slice)
						atomic.AddUint64(&slicesDone, 1)
						if i+1 == n {
							break
						}
						y := nowNs()
						runtime.Gosched()
						atomicMax(&maxWait, nowNs()-y)
					}
					atomicMax(&lastEnd, nowNs())
					atomic.AddUint64(&longsDone, 1)
					wg.Done()
				}()
				nextLong += uint64(longEvery)
			}
			next := nextShort
			if nextLong < next {
				next = nextLong
			}
			if t := nowNs(); next > t {
				time.Sleep(time.Duration(next - t))
			}
		}
		wg.Wait()
		if shortsDone != shorts || longsDone != longs || slicesDone != slices {
			die("mixed-latency: %d of %d shorts, %d of %d longs, %d of %d slices", shortsDone,
				shorts, longsDone, longs, slicesDone, slices)
		}
		if shorts < uint64(mixedRun/shortEvery)/2 {
			die("mixed-latency: only %d short requests offered", shorts)
		}
		if r == 0 {
			continue
		}
		us := make([]float64, 0, shorts)
		for i := uint64(0); i < shorts; i++ {
			if lat[i] == 0 {
				die("mixed-latency: short request %d has no latency", i)
			}
			us = append(us, float64(lat[i])/1e3)
		}
		p50s = append(p50s, percentile(us, 0.5))
		p99s = append(p99s, percentile(us, 0.99))
		perS = append(perS, float64(shorts+longs)/(float64(lastEnd-t0)/1e9))
		longMax = append(longMax, float64(maxWait)/1e6)
	}
	ops := uint64(mixedRun / shortEvery)
	emit("short_p50_us", "us", p50s, ops)
	emit("short_p99_us", "us", p99s, ops)
	emit("per_s", "1/s", perS, ops)
	emit("long_max_wait_ms", "ms", longMax, ops)
}

func main() {
	list := flag.Bool("list", false, "print the \"scenario impl\" pairs")
	flag.StringVar(&scenario, "scenario", "", "scenario")
	impl := flag.String("impl", "", "impl (go)")
	reps := flag.Int("reps", 5, "repetitions")
	iters := flag.Uint64("iters", 0, "one run of exactly this many operations")
	flag.Parse()
	if *list {
		for _, s := range scenarios {
			fmt.Printf("%s go\n", s)
		}
		return
	}
	if *impl != "go" {
		fmt.Fprintln(os.Stderr, "fiberbench-go: --impl go is the only impl")
		os.Exit(2)
	}
	if *iters%2 == 1 {
		*iters++
	}
	one := *reps
	if *iters > 0 {
		one = 1
	}
	switch scenario {
	case "switch":
		runtime.GOMAXPROCS(1)
		timedNsPerOp(*reps, *iters, switchRun)
	case "spawn-join":
		runtime.GOMAXPROCS(1)
		timedNsPerOp(*reps, *iters, spawnJoinRun)
	case "skynet-1M":
		runtime.GOMAXPROCS(2)
		skynetMain(one)
	case "mixed-latency":
		runtime.GOMAXPROCS(2)
		mixedMain(one)
	default:
		fmt.Fprintf(os.Stderr, "fiberbench-go: no scenario %q\n", scenario)
		os.Exit(2)
	}
}
