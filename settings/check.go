package settings

// Check validates the settings file for `ocm-tray check` (docs/cli.md): one
// line per problem, errors and warnings alike, in the Problem format, then
// the gate's decision as "gate: spawn" or "gate: refuse: <reason>". valid is
// false exactly when there is an error problem; the gate refusing is not an
// error of the file (the model may simply not be downloaded yet).
// modelsDirDefault is Paths.ModelsDir, used unless the file sets models_dir.
func Check(path string, explicit bool, modelsDirDefault string) (lines []string, valid bool) {
	s, problems := Load(path, explicit)
	lines = make([]string, 0, len(problems)+1)
	for _, p := range problems {
		lines = append(lines, p.String())
	}
	if HasErrors(problems) {
		// The agent does not run on a file with errors either.
		return append(lines, "gate: refuse: invalid settings in "+path), false
	}
	if d := decide(s, modelsDirDefault, OSFS{}); d.Spawn {
		lines = append(lines, "gate: spawn")
	} else {
		lines = append(lines, "gate: refuse: "+d.Reason)
	}
	return lines, true
}
