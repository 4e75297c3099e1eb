//go:build !purego

package b3

import "golang.org/x/sys/cpu"

// haveKernel: the CPU and the OS run AVX-512 (F is all the kernel uses).
var haveKernel = cpu.X86.HasAVX512F

//go:noescape
func hash16(j *job)
