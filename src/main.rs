//! The `quota` binary: everything it does is in the library, so the tests
//! and the binary run the same code.

fn main() -> std::process::ExitCode {
    quota::process::main()
}
