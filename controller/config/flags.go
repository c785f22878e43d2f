package config

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
)

// Flags are the command-line settings of `berth run`, bound to a FlagSet.
type Flags struct {
	fs     *pflag.FlagSet
	config *string
}

// BindFlags registers --config and a flag for every setting on fs. The
// defaults shown in help are Default's; only flags given on the command
// line override the file and the environment.
func BindFlags(fs *pflag.FlagSet) *Flags {
	f := &Flags{fs: fs}
	f.config = fs.String("config", "", "YAML config file (env "+EnvConfig+")")
	d := Default()
	d.Host = "" // help says "default: the host name"; the name itself varies by machine
	for _, s := range settings {
		usage := s.usage + " (env " + s.env() + ")"
		switch {
		case s.bln != nil:
			fs.Bool(s.flag, *s.bln(&d), usage)
		case s.dur != nil:
			fs.Duration(s.flag, s.dur(&d).Duration, usage)
		case s.num != nil:
			fs.Int(s.flag, *s.num(&d), usage)
		case s.list != nil:
			fs.String(s.flag, strings.Join(*s.list(&d), ","), usage)
		default:
			fs.String(s.flag, *s.str(&d), usage)
		}
	}
	return f
}

// Resolve builds the Config once the flags are parsed: Default, then the
// file from --config or BERTH_CONFIG, then the environment, then the flags
// that were given; so a flag beats a variable, which beats the file.
// SOPS_AGE_KEY_FILE comes last, for an age key file none of them set. Relative
// paths from the environment and flags are taken from the working directory.
// The result is validated.
func (f *Flags) Resolve(getenv func(string) string) (Config, error) {
	path := getenv(EnvConfig)
	if f.fs.Changed("config") {
		path = *f.config
	}
	c := Default()
	if path != "" {
		var err error
		if c, err = Load(path); err != nil {
			return Config{}, err
		}
	}
	if err := c.ApplyEnv(getenv); err != nil {
		return Config{}, err
	}
	if err := c.apply(f.assignments()); err != nil {
		return Config{}, err
	}
	c.fillHost()
	if c.AgeKeyFile == "" {
		c.AgeKeyFile = getenv(EnvSopsAgeKeyFile)
	}
	wd, err := os.Getwd()
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	c.absPaths(wd)
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// assignments are the flags given on the command line.
func (f *Flags) assignments() []assignment {
	var as []assignment
	for _, s := range settings {
		if f.fs.Changed(s.flag) {
			as = append(as, assignment{s: s, source: "--" + s.flag, value: f.fs.Lookup(s.flag).Value.String()})
		}
	}
	return as
}
