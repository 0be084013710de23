mod runtime;
// tools.rs is printed by prettyplease at generation time; rustfmt would
// reformat it and make `mcpo-gen check` report drift.
#[rustfmt::skip]
mod tools;

fn main() -> std::process::ExitCode {
    runtime::main(runtime::Embedded {
        lock_json: include_str!("../mcp.lock.json"),
        openapi_json: include_str!("../openapi.json"),
        router: tools::router,
    })
}
