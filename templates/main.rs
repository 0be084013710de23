mod runtime;
mod tools;

fn main() -> std::process::ExitCode {
    runtime::main(runtime::Embedded {
        lock_json: include_str!("../mcp.lock.json"),
        openapi_json: include_str!("../openapi.json"),
        router: tools::router,
    })
}
