// tools.rs is printed by prettyplease at generation time; rustfmt would
// reformat it and make `mcpo-gen check` report drift.
#[rustfmt::skip]
mod tools;
mcpo_runtime::codegen::proxy_main!(tools::router);
