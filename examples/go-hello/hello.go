// Says hello in the architecture it was compiled for.
package main

import (
	"fmt"
	"runtime"
)

func main() {
	fmt.Printf("Hello, %s!\n", runtime.GOARCH)
}
