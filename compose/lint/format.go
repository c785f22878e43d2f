package lint

import (
	"fmt"
	"strconv"
	"strings"
)

// String is the finding as one line, the way compilers print them:
//
//	stacks/shop/compose.yaml:12: error [floating-tag] service "web": image nginx:latest uses a floating tag; pin a version
func (f Finding) String() string {
	var b strings.Builder
	if f.File != "" {
		b.WriteString(f.File)
		if f.Line > 0 {
			b.WriteString(":" + strconv.Itoa(f.Line))
		}
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "%s [%s] %s", f.Severity, f.Rule, oneLine(f.Message))
	if f.Excepted != "" {
		fmt.Fprintf(&b, " (excepted: %s)", oneLine(f.Excepted))
	}
	return b.String()
}

func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

// GitHub is the finding as a GitHub Actions workflow command, which shows it
// on the file's line in a pull request. An excepted finding is a notice.
func (f Finding) GitHub() string {
	level := map[Severity]string{SeverityError: "error", SeverityWarning: "warning"}[f.Severity]
	title, msg := f.Rule, f.Message
	if level == "" {
		level = "notice"
	}
	if f.Excepted != "" {
		level, title, msg = "notice", f.Rule+" (excepted)", msg+" (excepted: "+f.Excepted+")"
	}
	var props []string
	if f.File != "" {
		props = append(props, "file="+escapeProperty(f.File))
		if f.Line > 0 {
			props = append(props, "line="+strconv.Itoa(f.Line))
		}
	}
	props = append(props, "title="+escapeProperty(title))
	return fmt.Sprintf("::%s %s::%s", level, strings.Join(props, ","), escapeData(msg))
}

// escapeData and escapeProperty follow the workflow command format, as
// @actions/core's command.ts escapes them.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

// Summary counts findings by severity.
type Summary struct {
	Errors, Warnings, Infos, Excepted int
}

// Summarize counts the findings.
func Summarize(fs []Finding) Summary {
	var s Summary
	for _, f := range fs {
		switch {
		case f.Excepted != "":
			s.Excepted++
		case f.Severity == SeverityError:
			s.Errors++
		case f.Severity == SeverityWarning:
			s.Warnings++
		default:
			s.Infos++
		}
	}
	return s
}

// String reads "1 error, 2 warnings, 0 info, 1 excepted".
func (s Summary) String() string {
	parts := []string{plural(s.Errors, "error"), plural(s.Warnings, "warning"), fmt.Sprintf("%d info", s.Infos)}
	if s.Excepted > 0 {
		parts = append(parts, fmt.Sprintf("%d excepted", s.Excepted))
	}
	return strings.Join(parts, ", ")
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
