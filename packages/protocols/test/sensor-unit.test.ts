import { SensorUnit, sensorUnitSymbol, sensorValueText } from '@scmi-ts/protocols';

describe('SensorUnit', () => {
  it("should have Linux's codes (enum scmi_sensor_class): the first, a few between, the last and OEM", () => {
    expect(SensorUnit.NONE).toBe(0x0);
    expect(SensorUnit.TEMPERATURE_C).toBe(0x2);
    expect(SensorUnit.VOLTAGE).toBe(0x5);
    expect(SensorUnit.CURRENT).toBe(0x6);
    expect(SensorUnit.HERTZ).toBe(0x14);
    expect(SensorUnit.COLOR_TEMP_K).toBe(0x3b);
    expect(SensorUnit.PERCENTAGE).toBe(0x41);
    expect(SensorUnit.RADIANS_SEC_SQUARED).toBe(0x5d);
    expect(SensorUnit.OEM_UNIT).toBe(0xff);
    // One name per code, 0x0 … 0x5D without a gap, and OEM.
    const codes = Object.values(SensorUnit).filter((v): v is number => typeof v === 'number');
    expect(codes).toEqual([...Array.from({ length: 0x5e }, (_, i) => i), 0xff]);
  });
});

describe(sensorUnitSymbol, () => {
  it('should give a symbol for every defined code, none for NONE and UNSPEC', () => {
    expect(sensorUnitSymbol(SensorUnit.TEMPERATURE_C)).toBe('°C');
    expect(sensorUnitSymbol(SensorUnit.VOLTAGE)).toBe('V');
    expect(sensorUnitSymbol(SensorUnit.OHMS)).toBe('Ω');
    expect(sensorUnitSymbol(SensorUnit.RADIANS_SEC_SQUARED)).toBe('rad/s²');
    expect(sensorUnitSymbol(SensorUnit.NONE)).toBe('');
    expect(sensorUnitSymbol(SensorUnit.UNSPEC)).toBe('');
    for (let code = 0x2; code <= 0x5d; code++) expect(sensorUnitSymbol(code)).not.toBe('');
  });

  it('should name OEM, and show a reserved code or a value that is no code as it is', () => {
    expect(sensorUnitSymbol(0xff)).toBe('(OEM unit)');
    expect(sensorUnitSymbol(0x5e)).toBe('(unit 0x5e)');
    expect(sensorUnitSymbol(0xfe)).toBe('(unit 0xfe)');
    expect(sensorUnitSymbol(0x100)).toBe('(unit 0x100)');
    expect(sensorUnitSymbol(-1)).toBe('(unit -1)');
    expect(sensorUnitSymbol(2.5)).toBe('(unit 2.5)');
    expect(sensorUnitSymbol(Number.NaN)).toBe('(unit NaN)');
  });
});

describe(sensorValueText, () => {
  it.each([
    [45123n, -3, SensorUnit.TEMPERATURE_C, '45.123 °C'],
    [45000, -3, SensorUnit.TEMPERATURE_C, '45.000 °C'],
    [5, -3, SensorUnit.VOLTAGE, '0.005 V'],
    [-5, -1, SensorUnit.VOLTAGE, '-0.5 V'],
    [-12345n, -2, SensorUnit.CURRENT, '-123.45 A'],
    [12, 3, SensorUnit.HERTZ, '12000 Hz'],
    [0, -2, SensorUnit.POWER, '0.00 W'],
    [7, 0, SensorUnit.NONE, '7'],
    [3, 0, 0x60, '3 (unit 0x60)'],
    // A 64-bit reading keeps every digit (a double would round it).
    [-(2n ** 63n), -16, SensorUnit.ENERGY, '-922.3372036854775808 J'],
    [2n ** 63n - 1n, 15, SensorUnit.COUNTS, '9223372036854775807000000000000000 counts'],
  ])('should write %p × 10^%p (unit %p) as %p', (value, exponent, unit, text) => {
    expect(sensorValueText(value, exponent, unit)).toBe(text);
  });

  it('should refuse a value that is not an integer, and an exponent the 5-bit field cannot hold', () => {
    expect(() => sensorValueText(1.5, 0, SensorUnit.VOLTAGE)).toThrow(RangeError);
    expect(() => sensorValueText(Number.NaN, 0, SensorUnit.VOLTAGE)).toThrow(RangeError);
    expect(() => sensorValueText(1, -17, SensorUnit.VOLTAGE)).toThrow(RangeError);
    expect(() => sensorValueText(1, 16, SensorUnit.VOLTAGE)).toThrow(RangeError);
    expect(() => sensorValueText(1, 0.5, SensorUnit.VOLTAGE)).toThrow(RangeError);
    expect(sensorValueText(1, -16, SensorUnit.VOLTAGE)).toBe('0.0000000000000001 V');
  });
});
