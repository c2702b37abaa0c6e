package stacks

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// RegionKey is the AWS provider's region key, which appstack requires and reads.
const RegionKey = "aws:region"

// Source is where Load reads a stack's configuration: the Pulumi context in a real run, a stack file offline.
type Source struct {
	// Get returns a key's value as Pulumi passes it to programs (objects and lists as JSON). Required.
	Get func(key string) (string, bool)
	// IsSecret reports whether a key was set with --secret. Required.
	IsSecret func(key string) bool
	// Keys lists every key set on the stack, when known, so that a misspelled key is an error. Optional.
	Keys []string
	// Dir is the project directory that build contexts are relative to. Default ".".
	Dir string
	// Check adds problems of its own to the built-in validation, each naming its key. Optional.
	Check func(*Config) []string
}

// Error is every problem found in a stack's configuration, each naming its key.
type Error struct {
	Problems []string
}

func (e *Error) Error() string {
	return fmt.Sprintf("invalid stack configuration (%d problem(s)):\n  %s", len(e.Problems),
		strings.Join(e.Problems, "\n  "))
}

// Unwrap returns one error per problem, as errors.Join holds them, so that errors.Is and errors.As look at each.
func (e *Error) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = errors.New(p)
	}
	return errs
}

// Load reads, defaults and validates a stack's configuration. Every problem is reported at once in an *Error.
func Load(src Source) (*Config, error) {
	if src.Dir == "" {
		src.Dir = "."
	}
	l := loader{src: src, unread: map[string]bool{}}
	cfg := l.read()
	// Validation runs even after a read problem, so that every problem is reported at once; it skips only the
	// keys that could not be read, whose values would be misleading (a list with an element missing). An
	// unknown key does not stop its neighbours being read and checked.
	unread := l.unread
	problems := cfg.problems(src.Dir)
	if src.Check != nil {
		problems = append(problems, src.Check(cfg)...)
	}
	for _, p := range problems {
		if !unread[topKey(p)] {
			l.problems = append(l.problems, p)
		}
	}
	if len(l.problems) > 0 {
		return nil, &Error{Problems: l.problems}
	}
	return cfg, nil
}

// Validate checks a configuration built in code (another program using the appstack component) the same way
// Load checks one read from a stack. Build contexts are checked relative to dir.
func (c *Config) Validate(dir string) error {
	if p := c.problems(dir); len(p) > 0 {
		return &Error{Problems: p}
	}
	return nil
}

// topKey is the top-level key a problem names: "appstack:services[1].port: ..." -> "appstack:services".
func topKey(problem string) string {
	k, _, _ := strings.Cut(problem, ": ")
	ns, rest, _ := strings.Cut(k, ":")
	if i := strings.IndexAny(rest, "[."); i >= 0 {
		rest = rest[:i]
	}
	return ns + ":" + rest
}

type loader struct {
	src      Source
	problems []string
	// unread are the top-level keys (appstack:services) that could not be read whole.
	unread map[string]bool
}

// addf records a problem with key k, whose value could not be read whole.
func (l *loader) addf(k, format string, args ...any) {
	l.unread[topKey(k+": ")] = true
	l.noticef(k, format, args...)
}

// noticef records a problem with key k that leaves the rest of the value readable (an unknown key).
func (l *loader) noticef(k, format string, args ...any) {
	l.problems = append(l.problems, k+": "+fmt.Sprintf(format, args...))
}

// topLevelKeys are the keys of the appstack namespace, from the json tags of Config plus secrets.
func topLevelKeys() []string {
	return append(jsonKeys(reflect.TypeFor[Config]()), "secrets")
}

func (l *loader) read() *Config {
	l.checkUnknownKeys()

	env := Environment(l.str("environment"))
	switch {
	case env == "":
		l.addf(key("environment"), "not set; want one of %s", joinEnvs())
	case !isEnvironment(env):
		l.addf(key("environment"), "%q is not an environment; want one of %s", env, joinEnvs())
	}
	cfg := Defaults(env)
	if region, ok := l.src.Get(RegionKey); ok {
		cfg.Region = region
	} else {
		l.addf(RegionKey, "not set (pulumi config set aws:region ap-southeast-1)")
	}

	decodeList(l, "services", &cfg.Services, true)
	decodeList(l, "tables", &cfg.Tables, false)
	if raw, ok := l.src.Get(key("instance")); ok {
		if l.decodeStrict(key("instance"), raw, &cfg.Instance, reflect.TypeFor[Instance]()) {
			// The profile's root volume follows the AMI when the stack does not set one: the ECS-optimised
			// AMI's snapshot is 30 GiB.
			var set map[string]json.RawMessage
			if json.Unmarshal([]byte(raw), &set) == nil && set["rootVolumeGiB"] == nil {
				cfg.Instance.RootVolumeGiB = max(cfg.Instance.RootVolumeGiB, MinRootVolumeGiB[cfg.Instance.AMI])
			}
		}
	}
	if raw, ok := l.src.Get(key("ingressCidrs")); ok {
		l.decodeStrict(key("ingressCidrs"), raw, &cfg.IngressCidrs, nil)
	}
	decodeList(l, "waivers", &cfg.Waivers, false)
	cfg.VpcID = l.str("vpcId")
	cfg.SubnetID = l.str("subnetId")
	l.integer("keepImages", &cfg.KeepImages)
	l.integer("logRetentionDays", &cfg.LogRetentionDays)
	l.duration("readyTimeout", &cfg.ReadyTimeout)
	cfg.AlarmEmail = l.str("alarmEmail")
	cfg.Domain = l.str("domain")
	l.duration("idleTimeout", &cfg.IdleTimeout)
	if raw, ok := l.src.Get(key("frontDoorSubnetIds")); ok {
		l.decodeStrict(key("frontDoorSubnetIds"), raw, &cfg.FrontDoorSubnetIDs, nil)
	}
	if h := l.str("hosting"); h != "" {
		cfg.Hosting = h
	}
	if raw, ok := l.src.Get(key("fleet")); ok {
		cfg.Fleet = &Fleet{}
		if !l.decodeStrict(key("fleet"), raw, cfg.Fleet, reflect.TypeFor[Fleet]()) {
			cfg.Fleet = nil
		}
	}
	if cfg.Fleet == nil && cfg.Hosting == FleetHosting {
		cfg.Fleet = &Fleet{}
	}
	if cfg.Fleet != nil {
		cfg.Fleet.applyDefaults(cfg.Instance.Type)
	}
	cfg.PermissionsBoundary = l.str("permissionsBoundary")
	cfg.AdoptAddress = l.str("adoptAddress")
	if raw := l.str("expiresAt"); raw != "" {
		t, err := time.Parse(time.RFC3339, raw)
		if err != nil {
			l.addf(key("expiresAt"), "%q is not an RFC 3339 time such as 2026-01-02T15:04:05Z", raw)
		}
		cfg.ExpiresAt = t
	}
	cfg.SecretNames = l.secretNames()

	for i := range cfg.Services {
		cfg.Services[i].applyDefaults()
	}
	for i := range cfg.Tables {
		cfg.Tables[i].applyDefaults()
	}
	return &cfg
}

func (l *loader) checkUnknownKeys() {
	known := topLevelKeys()
	sort.Strings(l.src.Keys)
	for _, k := range l.src.Keys {
		ns, name, ok := strings.Cut(k, ":")
		if !ok || ns != Namespace || slices.Contains(known, name) {
			continue
		}
		l.noticef(k, "unknown key%s", suggest(name, known))
	}
}

func (l *loader) str(name string) string {
	v, _ := l.src.Get(key(name))
	return v
}

func (l *loader) integer(name string, into *int) {
	raw, ok := l.src.Get(key(name))
	if !ok {
		return
	}
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil {
		l.addf(key(name), "%q is not a whole number", raw)
		return
	}
	*into = n
}

func (l *loader) duration(name string, into *time.Duration) {
	raw, ok := l.src.Get(key(name))
	if !ok {
		return
	}
	d, err := time.ParseDuration(strings.TrimSpace(raw))
	if err != nil {
		l.addf(key(name), "%q is not a duration such as 10m or 90s", raw)
		return
	}
	*into = d
}

// decodeList decodes a JSON list element by element, so that a problem names the element's index.
func decodeList[S ~[]T, T any](l *loader, name string, into *S, required bool) {
	k := key(name)
	raw, ok := l.src.Get(k)
	if !ok {
		if required {
			l.addf(k, "not set; at least one is required")
		}
		return
	}
	var items []json.RawMessage
	if err := json.Unmarshal([]byte(raw), &items); err != nil {
		l.addf(k, "want a list, got %s", abbreviate(raw))
		return
	}
	for i, item := range items {
		var v T
		if l.decodeStrict(fmt.Sprintf("%s[%d]", k, i), string(item), &v, reflect.TypeFor[T]()) {
			*into = append(*into, v)
		}
	}
}

// decodeStrict decodes raw over into, rejecting unknown keys. typ, when set, is into's type: each unknown key at
// any depth is reported by its full path with a "did you mean" hint, and the known keys are still decoded, so
// that the value's other problems are reported too. It reports whether decoding succeeded.
func (l *loader) decodeStrict(k, raw string, into any, typ reflect.Type) bool {
	dec := json.NewDecoder(strings.NewReader(raw))
	if typ != nil {
		l.unknownKeys(k, json.RawMessage(raw), typ)
	} else {
		dec.DisallowUnknownFields()
	}
	err := dec.Decode(into)
	if err == nil {
		return true
	}
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		l.addf(k+"."+typeErr.Field, "want a %s, got a JSON %s", describeKind(typeErr.Type), typeErr.Value)
	case errors.As(err, &typeErr):
		l.addf(k, "want a %s, got a JSON %s", describeKind(typeErr.Type), typeErr.Value)
	case errors.As(err, &syntaxErr):
		l.addf(k, "not valid structured config (%v): %s", syntaxErr, abbreviate(raw))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		var known []string
		if typ != nil {
			known = nestedJSONKeys(typ)
		}
		l.addf(k, "unknown key %q%s", field, suggest(field, known))
	default:
		l.addf(k, "%v", err)
	}
	return false
}

// unknownKeys reports every key of raw that t (a struct of this package, or a list, pointer or map of one) does
// not have, by its full path: appstack:services[1].prot. JSON that does not fit t is left to the decoder.
func (l *loader) unknownKeys(path string, raw json.RawMessage, t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice:
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) == nil {
			for i, item := range items {
				l.unknownKeys(fmt.Sprintf("%s[%d]", path, i), item, t.Elem())
			}
		}
	case reflect.Map:
		var items map[string]json.RawMessage
		if json.Unmarshal(raw, &items) == nil {
			for _, name := range slices.Sorted(maps.Keys(items)) {
				l.unknownKeys(path+"."+name, items[name], t.Elem())
			}
		}
	case reflect.Struct:
		if t.PkgPath() != configPkg {
			return
		}
		var fields map[string]json.RawMessage
		if json.Unmarshal(raw, &fields) != nil {
			return
		}
		known := jsonKeys(t)
		for _, name := range slices.Sorted(maps.Keys(fields)) {
			// encoding/json matches field names without regard to case; so does this check.
			i := slices.IndexFunc(known, func(k string) bool { return strings.EqualFold(k, name) })
			if i < 0 {
				l.noticef(path+"."+name, "unknown key%s", suggest(name, known))
				continue
			}
			if f, ok := fieldByJSONName(t, known[i]); ok {
				l.unknownKeys(path+"."+name, fields[name], f.Type)
			}
		}
	}
}

// configPkg is this package's path: unknownKeys checks the keys of its structs only.
var configPkg = reflect.TypeFor[Config]().PkgPath()

// fieldByJSONName finds the field of struct t whose json name is name.
func fieldByJSONName(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if n, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); n == name {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

// secretNames returns the names in appstack:secrets. The values are read only to learn the names and are
// dropped here; the program reads them again as secret outputs.
func (l *loader) secretNames() []string {
	k := key("secrets")
	raw, ok := l.src.Get(k)
	if !ok {
		return nil
	}
	if !l.src.IsSecret(k) {
		l.addf(k, "must be set with --secret: pulumi config set --secret --path '%s.NAME' VALUE", k)
		return nil
	}
	var values map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &values); err != nil {
		l.addf(k, "want a map of NAME to secret value")
		return nil
	}
	names := make([]string, 0, len(values))
	for name, v := range values {
		var s string
		if json.Unmarshal(v, &s) != nil {
			l.addf(k+"."+name, "want a string value")
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func isEnvironment(e Environment) bool { return slices.Contains(Environments, e) }

func joinEnvs() string {
	s := make([]string, len(Environments))
	for i, e := range Environments {
		s[i] = string(e)
	}
	return strings.Join(s, ", ")
}

func describeKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int64:
		return "whole number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		return "list"
	case reflect.Map, reflect.Struct:
		return "map"
	default:
		return t.Kind().String()
	}
}

// jsonKeys lists the json names of a struct's fields.
func jsonKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}

// nestedJSONKeys lists the json names of a struct's fields and of the structs it holds.
func nestedJSONKeys(t reflect.Type) []string {
	keys := jsonKeys(t)
	for i := range t.NumField() {
		ft := t.Field(i).Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			keys = append(keys, jsonKeys(ft)...)
		}
	}
	return keys
}

// suggest returns ` (did you mean "x"?)` for the known key closest to a misspelled one, or "".
func suggest(got string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(got), strings.ToLower(k)); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func abbreviate(s string) string {
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return strconv.Quote(s)
}
