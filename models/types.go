package models

import (
	"fmt"
	"math"
	"math/bits"
)

// ggmlType is one of ggml's tensor types: weights are stored in blocks of
// block elements taking size bytes each.
type ggmlType struct {
	name        string
	block, size uint64
}

// ggmlTypes are the tensor types a GGUF file may hold, by their number in
// the file. Numbers ggml retired (4, 5, 31-33, 36-38) are absent: a tensor
// of such a type cannot be sized, and completeness is then not judged.
var ggmlTypes = map[uint32]ggmlType{
	0: {"F32", 1, 4}, 1: {"F16", 1, 2},
	2: {"Q4_0", 32, 18}, 3: {"Q4_1", 32, 20},
	6: {"Q5_0", 32, 22}, 7: {"Q5_1", 32, 24},
	8: {"Q8_0", 32, 34}, 9: {"Q8_1", 32, 36},
	10: {"Q2_K", 256, 84}, 11: {"Q3_K", 256, 110}, 12: {"Q4_K", 256, 144},
	13: {"Q5_K", 256, 176}, 14: {"Q6_K", 256, 210}, 15: {"Q8_K", 256, 292},
	16: {"IQ2_XXS", 256, 66}, 17: {"IQ2_XS", 256, 74}, 18: {"IQ3_XXS", 256, 98},
	19: {"IQ1_S", 256, 50}, 20: {"IQ4_NL", 32, 18}, 21: {"IQ3_S", 256, 110},
	22: {"IQ2_S", 256, 82}, 23: {"IQ4_XS", 256, 136},
	24: {"I8", 1, 1}, 25: {"I16", 1, 2}, 26: {"I32", 1, 4}, 27: {"I64", 1, 8}, 28: {"F64", 1, 8},
	29: {"IQ1_M", 256, 56}, 30: {"BF16", 1, 2},
	34: {"TQ1_0", 256, 54}, 35: {"TQ2_0", 256, 66},
	39: {"MXFP4", 32, 17}, 40: {"NVFP4", 64, 36}, 41: {"Q1_0", 128, 18},
}

// TensorBytes is the size of a tensor's data: ok is false for a type this
// table does not know; problem says why the tensor cannot exist (a first
// dimension that is no whole number of blocks, a size past 2^63).
func TensorBytes(typ uint32, dims []uint64) (size uint64, ok bool, problem string) {
	t, known := ggmlTypes[typ]
	if !known {
		return 0, false, ""
	}
	rows := uint64(1)
	for _, d := range dims[min(1, len(dims)):] {
		hi, lo := bits.Mul64(rows, d)
		if hi != 0 {
			return 0, false, "a tensor too large to exist"
		}
		rows = lo
	}
	first := uint64(1)
	if len(dims) > 0 {
		first = dims[0]
	}
	if first%t.block != 0 {
		return 0, false, fmt.Sprintf("a %s tensor whose rows of %d are no whole number of %d-element blocks", t.name, first, t.block)
	}
	hi, row := bits.Mul64(first/t.block, t.size)
	if hi != 0 {
		return 0, false, "a tensor too large to exist"
	}
	hi, size = bits.Mul64(row, rows)
	if hi != 0 || size > math.MaxInt64 {
		return 0, false, "a tensor too large to exist"
	}
	return size, true, ""
}

// TypeName is ggml's name of a tensor type ("Q4_K"), or "type N".
func TypeName(typ uint32) string {
	if t, ok := ggmlTypes[typ]; ok {
		return t.name
	}
	return fmt.Sprintf("type %d", typ)
}

// fileTypes are the names of llama.cpp's model file types
// (general.file_type), as llama-quantize calls them.
var fileTypes = map[int64]string{
	0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 4: "Q4_1_SOME_F16",
	7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
	10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L",
	14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K",
	19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS",
	24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S",
	29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16",
	36: "TQ1_0", 37: "TQ2_0", 38: "MXFP4_MOE", 39: "NVFP4", 40: "Q1_0",
}

// fileTypeGuessed is the flag llama.cpp adds to a file type it guessed.
const fileTypeGuessed = 1024

// Quant names the quantisation of a model: its file type when the header
// says it ("Q4_K_M"), else the type holding most of its weights ("Q4_K"),
// else "".
func (h Header) Quant() string {
	if name, ok := fileTypes[h.FileType&^fileTypeGuessed]; ok && h.FileType >= 0 {
		return name
	}
	if h.MainType >= 0 {
		return TypeName(uint32(h.MainType))
	}
	return ""
}
