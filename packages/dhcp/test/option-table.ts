import t from 'tap'
import { Option, OPTION_TABLE, optionInfo, optionName, optionCode } from '../src/option-table.js'

t.test('table is consistent', async t => {
  const codes = new Set<number>()
  const names = new Set<string>()
  for (const o of OPTION_TABLE) {
    t.notOk(codes.has(o.code), `code ${o.code} once`)
    t.notOk(names.has(o.name), `name ${o.name} once`)
    codes.add(o.code)
    names.add(o.name)
    t.match(o.name, /^[a-z0-9-]+$/)
    t.match(o.rfc, /\S/)
  }
  for (const code of Object.values(Option)) t.ok(optionInfo(code), `Option value ${code} is in the table`)
  t.equal(Option.ServerIdentifier, 54)
  t.equal(optionInfo(Option.ClientSystemArchitecture)?.type, 'u16-list')
})

t.test('names', async t => {
  t.equal(optionName(54), 'server-identifier')
  t.equal(optionName(224), 'option-224', 'unknown codes print as option-<n>')
  t.equal(optionCode('server-identifier'), 54)
  t.equal(optionCode('option-224'), 224)
  t.equal(optionCode('option-0'), 0)
  t.equal(optionCode('option-256'), undefined)
  t.equal(optionCode('option-01'), undefined)
  t.equal(optionCode('nope'), undefined)
})
