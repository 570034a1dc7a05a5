package settings

import "bytes"

// MaxPieces bounds how many keys, values, tables and key parts a settings
// file may have. A real file has a few dozen; the template under a hundred.
//
// The bound exists because the TOML decoder spends a few hundred bytes on
// each piece, and time quadratic in the keys of one table (it finds a key
// among its siblings one by one): a 1 MiB file of nothing but "a.a.a..."
// or "[1,1,1,...]" made it allocate 300 to 400 MB, and 20,000 keys took it
// most of a second. Counting pieces first, without allocating, keeps
// checking any file within the size cap a matter of milliseconds and a few
// megabytes, and a file this far from a settings file is refused with a
// message rather than decoded.
const MaxPieces = 5000

// overPieces scans a TOML document as the decoder would split it and
// returns the 1-based line on which it passes MaxPieces, or 0 when it does
// not. A piece is anything that costs the decoder a table, a key or a value:
// each '=', '.', ',', '[' and '{' outside strings and comments. Numbers
// such as 1.5 count a piece too many, which only makes the bound a little
// stricter.
//
// Strings and comments are skipped exactly as TOML delimits them, so that
// text inside them is never counted, and pieces outside them are never
// hidden: a string the scan thinks still open is one the decoder also
// reads as a string (or refuses).
func overPieces(data []byte) int {
	pieces, line := 0, 1
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '\n':
			line++
		case '#':
			if j := bytes.IndexByte(data[i:], '\n'); j >= 0 {
				i += j - 1 // the newline is counted by the next turn
			} else {
				i = len(data)
			}
		case '"', '\'':
			var n int
			i, n = skipString(data, i)
			line += n
		case '=', '.', ',', '[', '{':
			if pieces++; pieces > MaxPieces {
				return line
			}
		}
	}
	return 0
}

// skipString skips the string that starts at data[i] (a quote) and returns
// the index of its last byte and how many newlines it spans. A one-line
// string ends at its closing quote or, unterminated, before the end of the
// line; a multi-line string (opened by three quotes) ends at the closing
// three and up to two more quotes right after them, which TOML reads as
// part of the content.
func skipString(data []byte, i int) (end, newlines int) {
	q := data[i]
	escapes := q == '"' // basic strings have escapes, literal ones do not
	if i+2 < len(data) && data[i+1] == q && data[i+2] == q {
		for j := i + 3; j < len(data); j++ {
			switch data[j] {
			case '\n':
				newlines++
			case '\\':
				if escapes {
					if j+1 < len(data) && data[j+1] == '\n' {
						newlines++
					}
					j++
				}
			case q:
				if j+2 < len(data) && data[j+1] == q && data[j+2] == q {
					end = j + 2
					for k := 0; k < 2 && end+1 < len(data) && data[end+1] == q; k++ {
						end++
					}
					return end, newlines
				}
			}
		}
		return len(data) - 1, newlines
	}
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\n':
			return j - 1, 0
		case '\\':
			if escapes && j+1 < len(data) && data[j+1] != '\n' {
				j++
			}
		case q:
			return j, 0
		}
	}
	return len(data) - 1, 0
}
