// The one schema-error formatter, as a table: one sentence per path, the bad value shown.
import t from 'tap'
import Type from 'typebox'
import { Value } from 'typebox/value'
import { closest, dottedPath, namedPattern, pointerToPath, schemaProblems } from '../src/schema-errors.js'

const Schema = Type.Object({
  name: Type.String({ pattern: namedPattern('^[a-z]+$', 'a lowercase word') }),
  size: Type.Integer({ minimum: 1 }),
  mode: Type.Enum(['a', 'b']),
  tags: Type.Array(Type.String({ pattern: '^x' })),
  nested: Type.Object({ port: Type.Integer() }, { additionalProperties: false })
}, { additionalProperties: false })

const problems = (value: unknown) => schemaProblems(Value.Errors(Schema, value), value, Schema).map(p => `${dottedPath('', p.path)}: ${p.message}`)

t.test('each keyword in one sentence', async t => {
  t.same(problems({ name: 'Bad', size: 0, mode: 'c', tags: ['y'], nested: { port: 'x', prot: 1 }, nmae: 1 }), [
    'nmae: is not a known key (did you mean "name"?); allowed: name, size, mode, tags, nested',
    'name: "Bad" is not a lowercase word',
    'size: must be >= 1 (got 0)',
    'mode: must be one of "a", "b", not "c"',
    'tags[0]: "y" is not in the expected format (^x)',
    'nested.prot: is not a known key (did you mean "port"?); allowed: port'
  ])
  t.same(problems({ name: 'a', size: 1, mode: 'a', tags: [], nested: { port: 'x' } }), ['nested.port: must be an integer, not string "x"'])
  t.same(problems({}), ['name: is required', 'size: is required', 'mode: is required', 'tags: is required', 'nested: is required'])
  t.same(problems([]), ['(root): must be an object, not a list'])
})

t.test('paths', async t => {
  t.same(pointerToPath('/lans/1/pool'), ['lans', 1, 'pool'])
  t.same(pointerToPath('/a~1b/~0c'), ['a/b', '~c'])
  t.equal(dottedPath('body', ['macs', 0]), 'body.macs[0]')
  t.equal(dottedPath('', []), '(root)')
  t.equal(closest('lisen', ['listen', 'bodyLimit']), 'listen')
  t.equal(closest('zzz', ['listen']), null)
})
