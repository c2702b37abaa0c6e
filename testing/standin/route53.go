package main

import (
	"os"
	"strings"
)

// zonesFromEnv are the public hosted zones the stand-in's account holds, from APPSTACK_STANDIN_ZONES (a comma
// separated list). Unset, every zone asked for exists; set, a lookup of any other zone gets the provider's
// not-found error, as a real account without the zone would give.
func zonesFromEnv() []string {
	raw, ok := os.LookupEnv("APPSTACK_STANDIN_ZONES")
	if !ok {
		return nil
	}
	zones := []string{}
	for _, z := range strings.Split(raw, ",") {
		if z = strings.TrimSpace(z); z != "" {
			zones = append(zones, z)
		}
	}
	return zones
}
