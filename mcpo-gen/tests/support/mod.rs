pub mod arbitrary_schema;
