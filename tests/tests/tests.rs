//! End-to-end, fault and bad-input tests against the real RabbitMQ and PostgreSQL,
//! through the real `drawpipe-dispatcher` and `drawpipe worker` processes.

mod admission;
mod amqp;
mod bad_input;
mod dead_letters;
mod deploy;
mod deps;
mod e2e;
mod faults;
mod priority;
mod schema;
mod secrets;
mod tenants;
mod viewer;
mod vl;
