// Package gobuild is how the operator's executable is built, in one place for every build of it that is run or
// measured: the demo and the bench build it with Args; `make build`, `make run` and the image's Dockerfile spell the
// same tags out, and TestEveryBuildOfTheOperatorHasTheTags holds them to it.
package gobuild

// OperatorPackage is the operator's main package.
const OperatorPackage = "./cmd/konsumerator"

// Tags are the operator's build tags.
//
// grpcnotrace: gRPC comes in with the API server's authentication libraries that secure the metrics endpoint
// (the operator never makes a gRPC call), and without the tag it imports golang.org/x/net/trace, whose HTML
// templates call methods by name. A program that can call any method by name makes the linker keep every
// exported method of every type it links, and the Kubernetes API types have thousands: the tag takes the
// executable from 90 to 69 MB, and what of it is resident with it (TestTheLinkerDropsUnusedMethods).
const Tags = "grpcnotrace"

// Args are the arguments of `go` that build the operator into out, as `make build` does but for the version
// stamped in and the symbols stripped, which change nothing it does.
func Args(out string) []string {
	return []string{"build", "-trimpath", "-tags", Tags, "-o", out, OperatorPackage}
}
