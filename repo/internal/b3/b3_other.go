//go:build !amd64 || purego

package b3

const haveKernel = false

func hash16(j *job) { hash16Generic(j) }
