// Command konsumerator runs the operator (the default) or one of its offline commands.
package main

import (
	"os"

	"github.com/konsumerator/konsumerator/cmd/konsumerator/app"
)

func main() {
	os.Exit(app.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
