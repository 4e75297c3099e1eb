package main

import (
	"bufio"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"
)

// vocabulary is the shared word material of one corpus, built from the seed
// and read-only afterwards.
type vocabulary struct {
	idents   []string // lowerCamel and snake identifiers, common ones first
	exported []string
	types    []string
	words    []string // comment words
	messages []string // log message templates
	license  []string
}

var syllables = strings.Fields(`get set buf read write node tree pack blob index count size err ctx cfg
item list map key val user file path name data hash lock chunk cache store load save parse print open
close new init state time mode flag opt handler server client request response stream queue worker pool
table row col meta info snap repo backend layer mount dir entry inode block page sector disk image host
source target filter match rule policy plan task job event signal retry limit rate window batch group
owner perm attr link target width height offset length total sum avg min max temp tmp out in`)

var englishWords = strings.Fields(`the a an of to in is it that for on with as be this by are or from at
which not we can if has have when all will each one must should may use used returns value values
called function method type struct field object list entry file files directory data result error
errors nil empty new old first last next previous number count size length bytes buffer read write
open close start stop check verify update create delete remove add set get load store cache lock
unlock wait done ready before after while until because so only also still already never always
note todo fixme see below above caller callee safe unsafe concurrent goroutine thread process`)

func newVocabulary(r *rand.Rand) *vocabulary {
	v := &vocabulary{}
	seen := map[string]bool{}
	for len(v.idents) < 3000 {
		n := 1 + r.IntN(3)
		var b strings.Builder
		snake := r.IntN(4) == 0
		for i := range n {
			s := syllables[r.IntN(len(syllables))]
			if i > 0 {
				if snake {
					b.WriteByte('_')
				} else {
					s = strings.ToUpper(s[:1]) + s[1:]
				}
			}
			b.WriteString(s)
		}
		id := b.String()
		if seen[id] {
			continue
		}
		seen[id] = true
		v.idents = append(v.idents, id)
		v.exported = append(v.exported, strings.ToUpper(id[:1])+id[1:])
	}
	v.types = []string{"int", "int64", "uint32", "string", "[]byte", "bool", "error", "float64", "*Node", "map[string]int", "Config", "context.Context", "io.Reader", "[]string", "time.Duration"}
	for range 40 {
		v.types = append(v.types, v.exported[r.IntN(200)])
	}
	v.words = englishWords
	for range 80 {
		n := 2 + r.IntN(6)
		var parts []string
		for range n {
			parts = append(parts, v.words[r.IntN(len(v.words))])
		}
		v.messages = append(v.messages, strings.Join(parts, " "))
	}
	v.license = []string{
		"Copyright 2019-2024 The " + v.exported[0] + " Authors. All rights reserved.",
		"Use of this source code is governed by a BSD-style license that can be",
		"found in the LICENSE file.",
	}
	return v
}

// zipf picks an index in [0,n) strongly biased towards small values.
func zipf(r *rand.Rand, n int) int {
	u := r.Float64()
	return int(float64(n) * u * u * u)
}

func (v *vocabulary) fileName(r *rand.Rand) string {
	a := v.idents[r.IntN(len(v.idents))]
	if r.IntN(3) == 0 {
		return a + "_" + v.idents[r.IntN(len(v.idents))]
	}
	return a
}

func (v *vocabulary) dirName(r *rand.Rand) string {
	return strings.ToLower(syllables[r.IntN(len(syllables))] + syllables[r.IntN(len(syllables))])
}

// A flavor is a kind of source file. Templates expand %i (local identifier),
// %I (exported identifier), %t (type), %n (small number), %N (large number),
// %s (word), %q (quoted phrase) and %% (percent sign).
type flavor struct {
	ext        string
	comment    string
	indent     string
	header     []string
	blockStart []string
	body       []string
	idioms     [][]string
	blockEnd   string
}

var flavors = []flavor{
	{
		ext: ".go", comment: "// ", indent: "\t",
		header: []string{"package %i", "", "import (", "\t\"context\"", "\t\"errors\"", "\t\"fmt\"", "\t\"io\"", "\t\"time\"", ")", ""},
		blockStart: []string{
			"func %I(ctx context.Context, %i %t, %i %t) (%t, error) {",
			"func (%i *%I) %I(%i %t) error {",
			"func %i(%i []%t) %t {",
			"type %I struct {",
			"var %i = map[string]%t{",
		},
		body: []string{
			"%i := %i.%I(%i)", "%i, err := %I(ctx, %i)", "%i[%i] = %i + %n", "%i = append(%i, %i)",
			"defer %i.Close()", "log.Printf(\"%s %s: %%v\", %i)", "%I %t `json:\"%i\"`", "%q: %n,",
			"return %i, nil", "%i.%i += %n", "if %i > %n {", "for _, %i := range %i {", "}",
			"%i := make([]%t, 0, %n)", "ctx, cancel := context.WithTimeout(ctx, %n*time.Second)",
		},
		idioms: [][]string{
			{"if err != nil {", "\treturn nil, err", "}"},
			{"if err != nil {", "\treturn fmt.Errorf(\"%s %s: %%w\", err)", "}"},
			{"mu.Lock()", "defer mu.Unlock()"},
			{"select {", "case <-ctx.Done():", "\treturn ctx.Err()", "default:", "}"},
		},
		blockEnd: "}",
	},
	{
		ext: ".py", comment: "# ", indent: "    ",
		header:     []string{"#!/usr/bin/env python3", "import os", "import sys", "import json", "from typing import Optional, List", ""},
		blockStart: []string{"def %i(%i, %i=None):", "class %I(object):", "    def %i(self, %i):", "async def %i(%i):"},
		body: []string{
			"%i = %i.%i(%i)", "self.%i = %i", "return %i", "if %i is None:", "for %i in %i:", "%i.append(%i)",
			"raise ValueError(%q)", "%i[%q] = %n", "print(f\"%s {%i}\")", "with open(%i) as f:", "pass",
		},
		idioms: [][]string{
			{"try:", "    %i = %i(%i)", "except Exception as e:", "    log.error(%q, e)", "    raise"},
			{"if __name__ == \"__main__\":", "    main()"},
		},
	},
	{
		ext: ".c", comment: "/* ", indent: "    ",
		header:     []string{"#include <stdio.h>", "#include <stdlib.h>", "#include <string.h>", "#include \"%i.h\"", ""},
		blockStart: []string{"static int %i(struct %i *%i, size_t %i)", "int %i_%i(const char *%i)", "struct %i {", "void %i(void)"},
		body: []string{
			"{", "}", "int %i = %n;", "%i->%i = %i;", "if (%i < %n)", "return -%n;", "memcpy(%i, %i, %n);",
			"for (i = 0; i < %n; i++)", "%i[i] = %i[i] ^ %N;", "free(%i);", "char *%i = malloc(%n);",
		},
		idioms: [][]string{
			{"if (!%i) {", "    perror(%q);", "    return -1;", "}"},
			{"#ifdef %I", "#define %I %n", "#endif"},
		},
		blockEnd: "}",
	},
	{
		ext: ".js", comment: "// ", indent: "  ",
		header:     []string{"'use strict';", "const %i = require('%i');", "const { %i, %i } = require('./%i');", ""},
		blockStart: []string{"function %i(%i, %i) {", "export async function %i(%i) {", "class %I {", "const %i = (%i) => {"},
		body: []string{
			"const %i = await %i.%i(%i);", "let %i = %n;", "return %i;", "this.%i = %i;", "if (%i === %n) {", "}",
			"console.log(`%s ${%i}`);", "%i.push(%i);", "throw new Error(%q);", "%i: %n,",
		},
		idioms:   [][]string{{"try {", "  %i();", "} catch (err) {", "  console.error(err);", "}"}},
		blockEnd: "}",
	},
	{
		ext: ".sh", comment: "# ", indent: "  ",
		header:     []string{"#!/bin/sh", "set -eu", ""},
		blockStart: []string{"%i() {", "for %i in %i %i %i; do", "if [ -n \"$%i\" ]; then"},
		body:       []string{"%i=\"$%i/%i\"", "echo \"%s %s $%i\"", "mkdir -p \"$%i\"", "rm -f \"$%i\"", "exit %n", "cp -a \"$%i\" \"$%i\""},
		idioms:     [][]string{{"case \"$1\" in", "  start) %i ;;", "  stop) %i ;;", "esac"}},
		blockEnd:   "}",
	},
	{
		ext: ".md", comment: "", indent: "",
		header:     []string{"# %I", ""},
		blockStart: []string{"## %I %s", "### %s %s %s", "- %s %s %s %s"},
		body:       []string{"%s %s %s %s %s %s %s %s %s.", "%s %s `%i` %s %s %s.", "- `%i`: %s %s %s", "```", "%i --%i=%n"},
		idioms:     [][]string{{"| %s | %s |", "|---|---|", "| `%i` | %n |"}},
	},
	{
		ext: ".yaml", comment: "# ", indent: "  ",
		header:     []string{"apiVersion: v1", "kind: %I", "metadata:", "  name: %i", ""},
		blockStart: []string{"%i:", "- name: %i", "%i_%i:"},
		body:       []string{"%i: %n", "%i: %q", "%i: true", "%i: [%i, %i]", "%i: /%i/%i"},
		idioms:     [][]string{{"resources:", "  limits:", "    cpu: %n", "    memory: %nMi"}},
	},
}

// textGen appends generated text, one unit (a block, a log line, a row) per
// call, from its own PRNG stream.
type textGen struct {
	v     *vocabulary
	r     *rand.Rand
	local []string // this file's identifiers
	fl    *flavor
	// log and table state
	clock  int64
	row    int64
	header bool
}

func newTextGen(v *vocabulary, seed uint64, fl int) *textGen {
	g := &textGen{v: v, r: rand.New(rand.NewPCG(seed, 0x74657874))}
	g.fl = &flavors[fl%len(flavors)]
	n := 12 + g.r.IntN(40)
	for range n {
		g.local = append(g.local, v.idents[zipf(g.r, len(v.idents))])
	}
	g.clock = 1_700_000_000_000 + g.r.Int64N(365*86400*1000)
	return g
}

func (g *textGen) expand(b []byte, tmpl string) []byte {
	r := g.r
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		if c != '%' || i+1 == len(tmpl) {
			b = append(b, c)
			continue
		}
		i++
		switch tmpl[i] {
		case 'i':
			if r.IntN(4) == 0 {
				b = append(b, g.v.idents[zipf(r, len(g.v.idents))]...)
			} else {
				b = append(b, g.local[r.IntN(len(g.local))]...)
			}
		case 'I':
			b = append(b, g.v.exported[zipf(r, len(g.v.exported))]...)
		case 't':
			b = append(b, g.v.types[r.IntN(len(g.v.types))]...)
		case 'n':
			b = strconv.AppendInt(b, int64(r.IntN(256)), 10)
		case 'N':
			b = strconv.AppendUint(b, r.Uint64()>>r.IntN(64), 10)
		case 's':
			b = append(b, g.v.words[zipf(r, len(g.v.words))]...)
		case 'q':
			b = append(b, '"')
			b = append(b, g.v.messages[r.IntN(len(g.v.messages))]...)
			b = append(b, '"')
		default:
			b = append(b, tmpl[i])
		}
	}
	return b
}

func (g *textGen) line(b []byte, depth int, tmpl string) []byte {
	for range depth {
		b = append(b, g.fl.indent...)
	}
	b = g.expand(b, tmpl)
	return append(b, '\n')
}

// source appends one unit of code-like text.
func (g *textGen) source(b []byte) []byte {
	fl, r := g.fl, g.r
	if !g.header {
		g.header = true
		if fl.comment != "" {
			for _, l := range g.v.license {
				b = append(b, fl.comment...)
				b = append(b, l...)
				b = append(b, '\n')
			}
			b = append(b, '\n')
		}
		for _, h := range fl.header {
			b = g.line(b, 0, h)
		}
		return b
	}
	switch x := r.IntN(100); {
	case x < 12 && fl.comment != "":
		for range 1 + r.IntN(4) {
			b = append(b, fl.comment...)
			b = g.line(b, 0, "%s %s %s %s %s %s %i %s %s.")
		}
	case x < 20:
		b = append(b, '\n')
	default:
		b = g.line(b, 0, fl.blockStart[r.IntN(len(fl.blockStart))])
		for range 2 + r.IntN(14) {
			if r.IntN(5) == 0 {
				for _, l := range fl.idioms[r.IntN(len(fl.idioms))] {
					b = g.line(b, 1, l)
				}
				continue
			}
			b = g.line(b, 1+r.IntN(2)*r.IntN(2), fl.body[r.IntN(len(fl.body))])
		}
		if fl.blockEnd != "" {
			b = append(b, fl.blockEnd...)
			b = append(b, '\n')
		}
		b = append(b, '\n')
	}
	return b
}

var levels = []string{"INFO ", "INFO ", "INFO ", "DEBUG", "DEBUG", "WARN ", "ERROR"}

// logLine appends one log line.
func (g *textGen) logLine(b []byte) []byte {
	r := g.r
	g.clock += r.Int64N(2000)
	b = time.UnixMilli(g.clock).UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, ' ')
	b = append(b, levels[r.IntN(len(levels))]...)
	b = append(b, " ["...)
	b = append(b, g.local[r.IntN(min(8, len(g.local)))]...)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(r.IntN(8)), 10)
	b = append(b, "] "...)
	b = append(b, g.v.messages[zipf(r, len(g.v.messages))]...)
	switch r.IntN(4) {
	case 0:
		b = g.expand(b, " id=%N user=%i dur=%nms")
	case 1:
		b = g.expand(b, " path=/%i/%i/%i.%i status=%n bytes=%N")
	case 2:
		b = g.expand(b, " request_id=%N")
	}
	return append(b, '\n')
}

// tableRow appends one CSV row (the header first).
func (g *textGen) tableRow(b []byte) []byte {
	r := g.r
	if !g.header {
		g.header = true
		return append(b, "id,name,category,created,amount,quantity,ratio,active,comment\n"...)
	}
	g.row++
	g.clock += r.Int64N(86400 * 1000)
	b = strconv.AppendInt(b, g.row, 10)
	b = append(b, ',')
	b = append(b, g.local[r.IntN(len(g.local))]...)
	b = append(b, ',')
	b = append(b, syllables[zipf(r, 12)]...)
	b = append(b, ',')
	b = time.UnixMilli(g.clock).UTC().AppendFormat(b, "2006-01-02")
	b = append(b, ',')
	b = strconv.AppendFloat(b, float64(r.IntN(1000000))/100, 'f', 2, 64)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(r.IntN(100)), 10)
	b = append(b, ',')
	b = strconv.AppendFloat(b, r.Float64(), 'f', 4, 64)
	b = append(b, ',')
	b = strconv.AppendBool(b, r.IntN(3) > 0)
	b = append(b, ',')
	if r.IntN(3) == 0 {
		b = append(b, g.v.messages[zipf(r, len(g.v.messages))]...)
	}
	return append(b, '\n')
}

// record appends one 64-byte low-entropy binary record.
func (g *textGen) record(b []byte) []byte {
	r := g.r
	g.row++
	g.clock += r.Int64N(1000)
	var rec [64]byte
	copy(rec[0:4], "REC1")
	binary.LittleEndian.PutUint32(rec[4:], uint32(g.row))
	binary.LittleEndian.PutUint64(rec[8:], uint64(g.clock))
	copy(rec[16:32], g.local[r.IntN(len(g.local))])
	binary.LittleEndian.PutUint32(rec[32:], uint32(r.IntN(1000)))
	rec[36] = byte(r.IntN(4))
	binary.LittleEndian.PutUint64(rec[40:], r.Uint64())
	return append(b, rec[:]...)
}

// writer writes file contents; one per worker, reusing its buffers.
type writer struct {
	v     *vocabulary
	buf   []byte // generated text
	rnd   []byte // random bytes
	zeros []byte
}

const chunk = 1 << 20

func newWriter(v *vocabulary) *writer {
	return &writer{v: v, buf: make([]byte, 0, chunk+64<<10), rnd: make([]byte, chunk), zeros: make([]byte, chunk)}
}

func chacha(seed uint64) *rand.ChaCha8 {
	p := rand.NewPCG(seed, 0x6368616368613820)
	var s [32]byte
	for i := 0; i < 32; i += 8 {
		binary.LittleEndian.PutUint64(s[i:], p.Uint64())
	}
	return rand.NewChaCha8(s)
}

func (w *writer) writeFile(path string, f *fileSpec) error {
	fd, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, os.FileMode(f.mode))
	if err != nil {
		return err
	}
	switch f.kind {
	case kindVMImage:
		err = w.vmImage(fd, f.size, f.seed)
	default:
		bw := bufio.NewWriterSize(fd, chunk)
		err = w.content(bw, f.kind, f.flavor, f.size, f.seed)
		if err == nil {
			err = bw.Flush()
		}
	}
	if cerr := fd.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return setMtime(path, f.mtime, false)
}

type byteWriter interface{ Write([]byte) (int, error) }

// content writes size bytes of the given kind.
func (w *writer) content(out byteWriter, k kind, fl int, size int64, seed uint64) error {
	switch k {
	case kindRandom, kindIncompressible:
		c := chacha(seed)
		for size > 0 {
			n := min(size, int64(len(w.rnd)))
			c.Read(w.rnd[:n])
			if _, err := out.Write(w.rnd[:n]); err != nil {
				return err
			}
			size -= n
		}
		return nil
	case kindMixed:
		r := rand.New(rand.NewPCG(seed, 0x6d69786564))
		for i := 0; size > 0; i++ {
			n := min(size, logUniform(r, 16<<10, 1<<20))
			sub := []kind{kindRandom, kindRandom, kindLog, kindSource, kindRecords, kindTable, -1}[r.IntN(7)]
			var err error
			if sub == -1 {
				err = w.zeroFill(out, n)
			} else {
				err = w.content(out, sub, r.IntN(len(flavors)), n, r.Uint64())
			}
			if err != nil {
				return err
			}
			size -= n
		}
		return nil
	}
	g := newTextGen(w.v, seed, fl)
	gen := map[kind]func([]byte) []byte{kindSource: g.source, kindLog: g.logLine, kindTable: g.tableRow, kindRecords: g.record}[k]
	for size > 0 {
		b := w.buf[:0]
		for len(b) < chunk && int64(len(b)) < size {
			b = gen(b)
		}
		n := min(int64(len(b)), size)
		if _, err := out.Write(b[:n]); err != nil {
			return err
		}
		size -= n
		w.buf = b[:0]
	}
	return nil
}

func (w *writer) zeroFill(out byteWriter, n int64) error {
	for n > 0 {
		k := min(n, int64(len(w.zeros)))
		if _, err := out.Write(w.zeros[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// vmImage writes a disk-image-like file: a boot sector, then regions of
// repeated 4 KiB blocks, repeated 64 KiB blocks, written zeros, holes left
// by seeking (sparse), random data and filesystem-like text and records,
// and a trailing hole over the last eighth.
func (w *writer) vmImage(fd *os.File, size int64, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 0x766d696d67))
	c := chacha(r.Uint64())
	// Templates for repeated blocks.
	small := make([][]byte, 8)
	for i := range small {
		small[i] = make([]byte, 4<<10)
		c.Read(small[i])
		// Half of them look like mostly empty filesystem blocks.
		if i%2 == 0 {
			clear(small[i][512:])
		}
	}
	large := make([][]byte, 4)
	for i := range large {
		large[i] = make([]byte, 64<<10)
		c.Read(large[i])
	}
	region := min(int64(1<<20), max(int64(64<<10), size/16)) &^ 4095

	const (
		rSmall = iota
		rLarge
		rZeros
		rHole
		rRandom
		rText
		nRegion
	)
	// The last eighth of the disk was never written: one long trailing hole.
	end := (size - size/8) &^ 4095
	var off int64
	bw := bufio.NewWriterSize(fd, chunk)
	for i := 0; off < end; i++ {
		n := min(end-off, region*int64(1+r.IntN(8)))
		var kind int
		switch {
		case i == 0:
			kind = rRandom // boot sector and partition table
			n = min(end, 64<<10)
		case i <= nRegion:
			kind = i - 1 // every kind at least once
			n = min(end-off, region)
		default:
			kind = []int{rSmall, rSmall, rLarge, rLarge, rZeros, rZeros, rHole, rHole, rHole, rRandom, rText}[r.IntN(11)]
		}
		if kind == rHole {
			if err := bw.Flush(); err != nil {
				return err
			}
			if _, err := fd.Seek(off+n, 0); err != nil {
				return err
			}
			off += n
			continue
		}
		var err error
		switch kind {
		case rSmall, rLarge:
			tpl := small
			if kind == rLarge {
				tpl = large
			}
			t := tpl[r.IntN(len(tpl))]
			for left := n; left > 0 && err == nil; {
				if r.IntN(8) == 0 {
					t = tpl[r.IntN(len(tpl))]
				}
				k := min(left, int64(len(t)))
				_, err = bw.Write(t[:k])
				left -= k
			}
		case rZeros:
			err = w.zeroFill(bw, n)
		case rRandom:
			err = w.content(bw, kindRandom, 0, n, r.Uint64())
		case rText:
			err = w.content(bw, kindMixed, 0, n, r.Uint64())
		}
		if err != nil {
			return err
		}
		off += n
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return fd.Truncate(size) // a trailing hole still gives the full size
}
