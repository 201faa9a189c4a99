// Package service is what every service of the example shares: it says
// which service is running and the architecture it was compiled for.
package service

import (
	"fmt"
	"runtime"
)

// Run prints the service's name and the architecture it runs as.
func Run(name string) {
	fmt.Printf("%s %s\n", name, runtime.GOARCH)
}
