// Package gguftest writes GGUF model files for tests: valid version 3 files
// with the metadata and tensor infos a test chooses, their tensor data
// zeros (written sparse, so a "4.7 GB" model costs no disk), and a Builder
// for headers no converter would write.
package gguftest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/OpenCircuitDev/ocm-tray/models"
)

// The metadata value types of GGUF, for Builder and Array.
const (
	TypeUint8 uint32 = iota
	TypeInt8
	TypeUint16
	TypeInt16
	TypeUint32
	TypeInt32
	TypeFloat32
	TypeBool
	TypeString
	TypeArray
	TypeUint64
	TypeInt64
	TypeFloat64
)

// Some ggml tensor types, for Tensor.Type.
const (
	F32  uint32 = 0
	F16  uint32 = 1
	Q4_0 uint32 = 2
	Q8_0 uint32 = 8
	Q4_K uint32 = 12
	Q6_K uint32 = 14
)

// Some llama.cpp file types, for general.file_type.
const (
	FileTypeF16   uint32 = 1
	FileTypeQ8_0  uint32 = 7
	FileTypeQ4_KM uint32 = 15
)

// KV is one metadata entry. Value is a Go value of a GGUF type: uint8,
// int8, uint16, int16, uint32, int32, float32, bool, string, uint64, int64,
// float64, []string, []int32, []uint32, []float32, or an Array.
type KV struct {
	Key   string
	Value any
}

// Array is an array value given by its element type and count, its
// elements zeros (numbers) or empty strings: a vocabulary of the right
// shape without writing one.
type Array struct {
	Type  uint32
	Count uint64
}

// Tensor is one tensor info.
type Tensor struct {
	Name string
	Type uint32
	Dims []uint64
}

// File is a GGUF file to write.
type File struct {
	Version uint32 // 0 means 3
	KV      []KV
	Tensors []Tensor
}

// Model returns a small llama-architecture model: name and file type in
// its metadata, and tensors of the given types and shapes (named t0, t1...).
func Model(name string, fileType uint32, tensors ...Tensor) File {
	for i := range tensors {
		if tensors[i].Name == "" {
			tensors[i].Name = fmt.Sprintf("t%d", i)
		}
	}
	return File{
		KV: []KV{
			{"general.architecture", "llama"},
			{"general.name", name},
			{"general.file_type", fileType},
			{"llama.context_length", uint32(4096)},
		},
		Tensors: tensors,
	}
}

// Tiny is a complete 704-byte model with 288 weights, quantisation Q8_0.
func Tiny() File {
	return Model("tiny", FileTypeQ8_0,
		Tensor{Name: "token_embd.weight", Type: Q8_0, Dims: []uint64{32, 8}},
		Tensor{Name: "output_norm.weight", Type: F32, Dims: []uint64{32}},
	)
}

func (f File) alignment() uint64 {
	for _, kv := range f.KV {
		if kv.Key == "general.alignment" {
			if a, ok := kv.Value.(uint32); ok && a != 0 {
				return uint64(a)
			}
		}
	}
	return models.DefaultAlignment
}

// Header is the file's bytes up to the end of its tensor infos. Offsets
// are laid out as llama.cpp's writer does: each tensor's data starts at a
// multiple of the alignment after the previous one's.
func (f File) Header() []byte {
	var b Builder
	v := f.Version
	if v == 0 {
		v = 3
	}
	b.Raw([]byte(models.Magic))
	b.U32(v)
	b.U64(uint64(len(f.Tensors)))
	b.U64(uint64(len(f.KV)))
	for _, kv := range f.KV {
		b.Str(kv.Key)
		b.Value(kv.Value)
	}
	var off uint64
	a := f.alignment()
	for _, t := range f.Tensors {
		b.Str(t.Name)
		b.U32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			b.U64(d)
		}
		b.U32(t.Type)
		b.U64(off)
		size, _, _ := models.TensorBytes(t.Type, t.Dims)
		off = (off + size + a - 1) / a * a
	}
	return b.Bytes()
}

// Size is the length of the complete file: the data section starts at the
// first multiple of the alignment after the header and ends with the last
// tensor's data (no padding after it).
func (f File) Size() int64 {
	h := int64(len(f.Header()))
	if len(f.Tensors) == 0 {
		return h
	}
	a := int64(f.alignment())
	end := int64(0)
	var off int64
	for _, t := range f.Tensors {
		size, _, _ := models.TensorBytes(t.Type, t.Dims)
		end = off + int64(size)
		off = (end + a - 1) / a * a
	}
	return (h+a-1)/a*a + end
}

// Write writes the complete file to path, dated an hour back: a model that
// finished downloading a while ago, which the spawn-gate judges at once.
func (f File) Write(path string) error {
	return f.WriteSize(path, f.Size())
}

// WriteSize writes the file cut (or padded with zeros) to size bytes,
// dated an hour back.
func (f File) WriteSize(path string, size int64) error {
	h := f.Header()
	if int64(len(h)) > size {
		h = h[:size]
	}
	if err := os.WriteFile(path, h, 0o644); err != nil {
		return fmt.Errorf("gguftest: %w", err)
	}
	if err := os.Truncate(path, size); err != nil {
		return fmt.Errorf("gguftest: %w", err)
	}
	return Settle(path)
}

// Settle dates path an hour back, as a file that stopped changing long ago.
func Settle(path string) error {
	t := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, t, t); err != nil {
		return fmt.Errorf("gguftest: %w", err)
	}
	return nil
}

// Builder writes GGUF's little-endian encoding piece by piece, for headers
// a test crafts by hand (damaged, hostile).
type Builder struct {
	bytes.Buffer
}

// Raw appends b as it is.
func (b *Builder) Raw(p []byte) { b.Write(p) }

// U32 appends a uint32.
func (b *Builder) U32(v uint32) { b.Write(binary.LittleEndian.AppendUint32(nil, v)) }

// U64 appends a uint64.
func (b *Builder) U64(v uint64) { b.Write(binary.LittleEndian.AppendUint64(nil, v)) }

// Str appends a GGUF string: its length, then its bytes.
func (b *Builder) Str(s string) {
	b.U64(uint64(len(s)))
	b.WriteString(s)
}

// Value appends a value's type and the value (see KV for the Go types).
func (b *Builder) Value(v any) {
	switch x := v.(type) {
	case uint8:
		b.U32(TypeUint8)
		b.WriteByte(x)
	case int8:
		b.U32(TypeInt8)
		b.WriteByte(byte(x))
	case uint16:
		b.U32(TypeUint16)
		b.Write(binary.LittleEndian.AppendUint16(nil, x))
	case int16:
		b.U32(TypeInt16)
		b.Write(binary.LittleEndian.AppendUint16(nil, uint16(x)))
	case uint32:
		b.U32(TypeUint32)
		b.U32(x)
	case int32:
		b.U32(TypeInt32)
		b.U32(uint32(x))
	case float32:
		b.U32(TypeFloat32)
		b.U32(math.Float32bits(x))
	case bool:
		b.U32(TypeBool)
		if x {
			b.WriteByte(1)
		} else {
			b.WriteByte(0)
		}
	case string:
		b.U32(TypeString)
		b.Str(x)
	case uint64:
		b.U32(TypeUint64)
		b.U64(x)
	case int64:
		b.U32(TypeInt64)
		b.U64(uint64(x))
	case float64:
		b.U32(TypeFloat64)
		b.U64(math.Float64bits(x))
	case []string:
		array(b, TypeString, x, b.Str)
	case []int32:
		array(b, TypeInt32, x, func(n int32) { b.U32(uint32(n)) })
	case []uint32:
		array(b, TypeUint32, x, b.U32)
	case []float32:
		array(b, TypeFloat32, x, func(n float32) { b.U32(math.Float32bits(n)) })
	case Array:
		b.U32(TypeArray)
		b.U32(x.Type)
		b.U64(x.Count)
		if x.Type == TypeString {
			for range x.Count {
				b.U64(0)
			}
			return
		}
		size := map[uint32]uint64{TypeUint8: 1, TypeInt8: 1, TypeBool: 1, TypeUint16: 2, TypeInt16: 2,
			TypeUint32: 4, TypeInt32: 4, TypeFloat32: 4, TypeUint64: 8, TypeInt64: 8, TypeFloat64: 8}[x.Type]
		b.Write(make([]byte, x.Count*size))
	default:
		panic(fmt.Sprintf("gguftest: no GGUF type for %T", v))
	}
}

// array appends an array value: its element type, its length, then each
// element as put writes it.
func array[T any](b *Builder, elem uint32, xs []T, put func(T)) {
	b.U32(TypeArray)
	b.U32(elem)
	b.U64(uint64(len(xs)))
	for _, x := range xs {
		put(x)
	}
}
