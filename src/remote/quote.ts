// One quoting helper for the whole project: the plan's script generators and this layer share it.
export { shellJoin, shellQuote } from '../plan/shellQuote';
